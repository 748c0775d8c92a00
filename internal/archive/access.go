package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/ledger"
)

// AccessDetail is the canonical document of one access (docs/FORMATS.md): who, what
// and how much. Its SHA-256 is in the ledger's access entry.
type AccessDetail struct {
	V             int      `json:"v"`
	Time          string   `json:"time"`
	Actor         string   `json:"actor"`  // "os:<user>@<host>" for the CLI; "user:<login>" for the web
	Action        string   `json:"action"` // search, export, read
	Query         string   `json:"query,omitempty"`
	Results       int64    `json:"results"`
	Records       []string `json:"records,omitempty"`         // ids read or exported (all of them for an export)
	Manifest      string   `json:"manifest_sha256,omitempty"` // an export's manifest: commits to every id in it
	Justification string   `json:"justification,omitempty"`
	// Via is how the access came (optional, additive): "web" for the pages,
	// "api" for the JSON API with a browser session, "api-token:<prefix>#<id>"
	// for an API token; empty for the CLI.
	Via string `json:"via,omitempty"`
}

// LogAccess records an access: catalog access log and ledger entry in one
// transaction, then — when this process can take the writer lock, or already holds
// it — the entry goes into the Merkle log at once; otherwise the running writer
// (serve) appends it within a few seconds.
func (a *Archive) LogAccess(ctx context.Context, d AccessDetail) (int64, error) {
	now := a.now()
	d.V = 1
	d.Time = ledger.FormatTime(now)
	doc, err := ledger.Canonical(d)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(doc)
	entry, err := ledger.NewAccessEntry(now, d.Action, hex.EncodeToString(sum[:]))
	if err != nil {
		return 0, err
	}
	idx, err := a.Cat.LogAccess(ctx, catalog.AccessRecord{At: now, Actor: d.Actor, Action: d.Action, Detail: doc,
		DetailSHA256: hex.EncodeToString(sum[:]), Entry: entry})
	if err != nil {
		return 0, fmt.Errorf("access not logged: %w", err)
	}
	if err := a.flushPending(ctx); err != nil {
		a.logger.Warn("access entry committed; ledger append pending", "err", err)
	}
	return idx, nil
}

// flushPending appends committed catalog entries to the Merkle log if this process
// is, or can briefly become, the writer.
func (a *Archive) flushPending(ctx context.Context) error {
	if a.opt.Writer && a.lock != nil {
		return a.catchUpLedger(ctx)
	}
	lock, err := AcquireLock(a.opt.Dir, "access")
	if errors.Is(err, ErrLocked) {
		return nil // the writer appends it
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	l, err := ledger.Open(Layout{a.opt.Dir}.Ledger(), ledger.Options{Origin: a.Format.Origin,
		Signer: a.Keys.LedgerSigner(), Verifier: a.Keys.LedgerVerifier()})
	if err != nil {
		return err
	}
	old := a.Log
	a.Log = l
	err = a.catchUpLedger(ctx)
	if err != nil {
		a.Log = old
	}
	return err
}

// DeliveryDetail is the canonical document of one delivery (docs/FORMATS.md,
// resguardo-delivery/1): the remote server's acceptance of a relayed copy. Its
// SHA-256 is in the ledger's delivery entry.
type DeliveryDetail struct {
	Format        string       `json:"format"` // resguardo-delivery/1
	Time          string       `json:"time"`   // when the server accepted (its reply to the end of data)
	SHA256        string       `json:"sha256"` // the archived message
	SentSHA256    string       `json:"sent_sha256"`
	SentSize      int64        `json:"sent_size"`
	MessageID     string       `json:"message_id,omitempty"`
	Route         string       `json:"route"` // next_hop, mx, smarthost
	MailFrom      string       `json:"mail_from"`
	Recipients    []string     `json:"recipients"` // the recipients the server accepted
	RemoteHost    string       `json:"remote_host"`
	RemoteIP      string       `json:"remote_ip"`
	RemotePort    int          `json:"remote_port"`
	Greeting      string       `json:"greeting,omitempty"`
	TLS           *DeliveryTLS `json:"tls,omitempty"` // nil: sent in clear
	MTASTS        string       `json:"mta_sts,omitempty"`
	Reply         string       `json:"reply"` // the server's answer to the end of data, e.g. "250 2.0.0 Ok: queued as 4F3…"
	Attempt       int          `json:"attempt"`
	QueuedAt      string       `json:"queued_at"`
	ReportingHost string       `json:"reporting_host"`
}

// DeliveryTLS describes the TLS session a copy was sent over.
type DeliveryTLS struct {
	Version      string `json:"version"`
	Cipher       string `json:"cipher"`
	ServerName   string `json:"server_name,omitempty"`
	CertSHA256   string `json:"cert_sha256,omitempty"` // of the server's leaf certificate (DER)
	CertSubject  string `json:"cert_subject,omitempty"`
	CertIssuer   string `json:"cert_issuer,omitempty"`
	CertNotAfter string `json:"cert_not_after,omitempty"`
	Verified     bool   `json:"verified"` // the chain and name were checked against trusted roots
	VerifyError  string `json:"verify_error,omitempty"`
	// DANE (RFC 7672) on the mx route: "verified" (the certificate matched
	// DANETLSA, one of the host's DNSSEC-authenticated TLSA records) or
	// "unusable-tls" (secure TLSA records, none usable: TLS was mandatory,
	// unauthenticated); absent when DANE did not apply.
	DANE     string `json:"dane,omitempty"`
	DANETLSA string `json:"dane_tlsa,omitempty"` // "usage selector matching-type hex"
}

// DeliveryFormat identifies the delivery detail document.
const DeliveryFormat = "resguardo-delivery/1"

// DeliveryLog is one delivery to record: the record, the detail, and the queue
// entries it completes.
type DeliveryLog struct {
	Seq    int64
	Detail DeliveryDetail
	IDs    []int64
}

// LogDeliveries records many deliveries with one catalog transaction: the
// relay's group commit. Their ledger entries reach the Merkle log shortly after
// (appendSoon), not before it returns.
func (a *Archive) LogDeliveries(ctx context.Context, ls []DeliveryLog) ([]int64, [][]byte, error) {
	recs := make([]catalog.DeliveryRecord, len(ls))
	ids := make([][]int64, len(ls))
	docs := make([][]byte, len(ls))
	for i, l := range ls {
		d := l.Detail
		d.Format = DeliveryFormat
		doc, err := ledger.Canonical(d)
		if err != nil {
			return nil, nil, err
		}
		sum := sha256.Sum256(doc)
		at, err := time.Parse(time.RFC3339Nano, d.Time)
		if err != nil {
			return nil, nil, fmt.Errorf("delivery time %q: %w", d.Time, err)
		}
		entry, err := ledger.NewDeliveryEntry(at, d.SHA256, hex.EncodeToString(sum[:]))
		if err != nil {
			return nil, nil, err
		}
		recs[i] = catalog.DeliveryRecord{RecordSeq: l.Seq, At: at, Detail: doc, DetailSHA256: hex.EncodeToString(sum[:]), Entry: entry}
		ids[i], docs[i] = l.IDs, doc
	}
	idxs, err := a.Cat.LogDeliveries(ctx, recs, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("delivery not logged: %w", err)
	}
	// Committed: the entries are durable in the catalog. The writer appends
	// them to the Merkle log with the next ingester batch or within
	// appendSoonDelay, sharing that append's fsyncs.
	if a.opt.Writer && a.lock != nil {
		a.appendSoon()
	} else if err := a.flushPending(ctx); err != nil {
		a.logger.Warn("delivery entries committed; ledger append pending", "err", err)
	}
	return idxs, docs, nil
}
