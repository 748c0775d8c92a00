package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/message"
)

// MetaVersion is the version of the record metadata document.
const MetaVersion = 1

// Meta is the record metadata document (docs/FORMATS.md). Its canonical JSON — keys in
// this order, compact, no HTML escaping — is stored in the catalog, and its SHA-256 is
// the meta_sha256 of the record's ledger entry, so everything we observed at arrival is
// fixed by the ledger. Later findings (classification, holds, …) are not part of it.
type Meta struct {
	V           int               `json:"v"`
	SHA256      string            `json:"sha256"`
	Size        int64             `json:"size"`
	ArchivedAt  string            `json:"archived_at"`
	Channel     string            `json:"channel"`
	Source      string            `json:"source"`
	MessageID   string            `json:"message_id"`
	Date        string            `json:"date,omitempty"`
	DateRaw     string            `json:"date_raw"`
	From        []message.Address `json:"from"`
	Sender      []message.Address `json:"sender"`
	ReplyTo     []message.Address `json:"reply_to"`
	To          []message.Address `json:"to"`
	Cc          []message.Address `json:"cc"`
	Bcc         []message.Address `json:"bcc"`
	Subject     string            `json:"subject"`
	InReplyTo   []string          `json:"in_reply_to"`
	References  []string          `json:"references"`
	Attachments []catalog.Part    `json:"attachments"`
	Malformed   bool              `json:"malformed"`
	Defects     []message.Defect  `json:"defects"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// buildRecord turns a parsed message into the catalog row, metadata document and
// ledger entry of a new record.
func buildRecord(sum [32]byte, raw []byte, m *message.Message, channel, source string, at time.Time) (catalog.NewRecord, error) {
	shaHex := hex.EncodeToString(sum[:])
	meta := Meta{
		V: MetaVersion, SHA256: shaHex, Size: int64(len(raw)), ArchivedAt: ledger.FormatTime(at),
		Channel: channel, Source: source, MessageID: m.MessageID, DateRaw: m.DateRaw,
		From: nonNil(m.From), Sender: nonNil(m.Sender), ReplyTo: nonNil(m.ReplyTo),
		To: nonNil(m.To), Cc: nonNil(m.Cc), Bcc: nonNil(m.Bcc), Subject: m.Subject,
		InReplyTo: nonNil(m.InReplyTo), References: nonNil(m.References),
		Malformed: m.Malformed(), Defects: nonNil(m.Defects), Attachments: []catalog.Part{},
	}
	if !m.Date.IsZero() {
		meta.Date = m.Date.Format(time.RFC3339)
	}
	for _, p := range m.Attachments() {
		meta.Attachments = append(meta.Attachments, catalog.Part{
			Path: p.Path, ContentType: p.ContentType, Disposition: p.Disposition,
			Filename: p.Filename, Size: p.Size, SHA256: p.SHA256,
		})
	}
	metaJSON, err := ledger.Canonical(meta)
	if err != nil {
		return catalog.NewRecord{}, err
	}
	metaSum := sha256.Sum256(metaJSON)
	metaHex := hex.EncodeToString(metaSum[:])
	entry, err := ledger.NewRecordEntry(shaHex, int64(len(raw)), channel, at, metaHex)
	if err != nil {
		return catalog.NewRecord{}, err
	}
	rec := catalog.Record{
		SHA256: shaHex, Size: int64(len(raw)), ArchivedAt: at, Channel: channel, Source: source,
		MessageID: m.MessageID, Date: m.Date, DateRaw: m.DateRaw, Subject: m.Subject,
		Malformed: m.Malformed(), Meta: metaJSON, MetaSHA256: metaHex, Parts: meta.Attachments,
	}
	if len(m.From) > 0 {
		rec.FromAddr = strings.ToLower(m.From[0].Address)
	}
	seen := map[string]bool{}
	for _, d := range m.Defects {
		if !seen[d.Code] {
			seen[d.Code] = true
			rec.Defects = append(rec.Defects, d.Code)
		}
	}
	return catalog.NewRecord{Record: rec, EntryType: ledger.TypeRecord, Entry: entry}, nil
}
