// Package search indexes the archive and answers queries in the query language of
// package query. The Index interface is what callers use; Bleve is the embedded
// implementation (bleve v2, on disk in the data directory) with Spanish analysis —
// stop words, light stemming and accent folding ("informacion" finds "información",
// "contratos" finds "contrato") — addresses searchable whole, by part and by
// domain, and text extracted from attachments. A PostgreSQL full-text
// implementation for the scale-out tier can satisfy the same interface.
//
// The index is derived data: records reach it through a durable queue in the
// catalog (filled in the same transaction as the records), so a crash never loses
// index work, and the whole index can be deleted and rebuilt (`resguardo reindex`).
package search

import (
	"context"
	"time"

	"github.com/resguardo/resguardo/internal/search/query"
)

// Doc is one message as the index sees it.
type Doc struct {
	ID          string // SHA-256 of the message
	Date        time.Time
	ArchivedAt  time.Time
	Subject     string
	Body        string
	Attachments string   // text extracted from attachments
	Filenames   []string // attachment file names
	From        []Address
	To          []Address
	Cc          []Address
	Bcc         []Address
	// Sender, ReplyTo and Envelope (every reception's MAIL FROM and RCPT TO)
	// are not searchable by field; with From, To, Cc and Bcc they make the
	// read rule's participants (field "reader"), which Request.Participants
	// restricts to, so that search finds what identity.AuthorizeRead lets open.
	Sender    []Address
	ReplyTo   []Address
	Envelope  []string
	MessageID string
	Thread    int64
	Size      int64
	Channel   string
	Malformed bool
	HasAttach bool
}

// Address is a mailbox in a header field.
type Address struct {
	Name    string
	Address string
}

// Sort orders results.
type Sort string

// Sort orders.
const (
	SortDate      Sort = "date"      // newest first (default)
	SortRelevance Sort = "relevance" // best match first
)

// Request is a search.
type Request struct {
	Query     query.Node
	Sort      Sort
	Offset    int
	Limit     int  // 0: 20
	Facets    bool // year, sender domain, has attachment
	Highlight bool // snippets
	// Participants, when set, restricts results to messages where one of these
	// addresses is a participant of the read rule — From, Sender, Reply-To, To,
	// Cc, Bcc or an envelope address (a servidor público sees only their own
	// mail). Indexes built before the "reader" field existed match From, To,
	// Cc and Bcc only, until `resguardo reindex` (Bleve.NeedsReindex).
	Participants []string
}

// Hit is one result.
type Hit struct {
	ID       string    `json:"id"`
	Score    float64   `json:"score"`
	Date     time.Time `json:"date"`
	From     string    `json:"from"`
	Subject  string    `json:"subject"`
	Snippets []string  `json:"snippets,omitempty"`
}

// FacetCount is one bucket of a facet.
type FacetCount struct {
	Term  string `json:"term"`
	Count int    `json:"count"`
}

// Result is the answer to a Request.
type Result struct {
	Total  uint64                  `json:"total"`
	Hits   []Hit                   `json:"hits"`
	Facets map[string][]FacetCount `json:"facets,omitempty"`
	// FacetsSkipped: facets were asked for but the query has more than
	// MaxFacetResults results; counting them would read every match.
	FacetsSkipped bool          `json:"facets_skipped,omitempty"`
	Took          time.Duration `json:"took_ns"`
}

// MaxFacetResults bounds the results whose facets a search counts.
const MaxFacetResults = 100_000

// Index stores and searches documents.
type Index interface {
	Index(ctx context.Context, docs []Doc) error
	Delete(ctx context.Context, ids []string) error
	Search(ctx context.Context, r Request) (*Result, error)
	// Scan visits every match, oldest first, in constant memory.
	Scan(ctx context.Context, r Request, fn func(Hit) error) error
	Count() (uint64, error)
	Close() error
}
