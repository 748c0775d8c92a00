package search

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/extract"
	"github.com/resguardo/resguardo/internal/message"
)

// Source is what the indexer needs from the archive.
type Source interface {
	IndexQueue(ctx context.Context, after int64, limit int) ([]int64, error)
	RecordsBySeq(ctx context.Context, seqs []int64) ([]*catalog.Record, error)
	IndexDone(ctx context.Context, seqs []int64) error
	AssignThreads(ctx context.Context, in []catalog.ThreadInput, window time.Duration) ([]int64, error)
}

// Reader returns a record's message bytes (verified against its SHA-256).
type Reader func(ctx context.Context, r *catalog.Record) ([]byte, error)

// Indexer drains the catalog's index queue into an Index.
type Indexer struct {
	Src     Source
	Read    Reader
	Index   Index
	Limits  extract.Limits
	Logger  *slog.Logger
	Batch   int // records per index batch (default 500)
	Workers int // extraction workers (default GOMAXPROCS)
	// Progress, if set, is called after each batch with the records done so far.
	Progress func(done int)
}

// Run indexes everything in the queue and returns how many records it indexed.
// Reading, decrypting, parsing and extracting the next batch overlaps indexing the
// current one.
func (ix *Indexer) Run(ctx context.Context) (int, error) {
	size := ix.Batch
	if size <= 0 {
		size = 1000
	}
	logger := ix.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	type built struct {
		seqs []int64
		docs []Doc
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan built, 1)
	go func() {
		defer close(ch)
		after := int64(0)
		for {
			seqs, err := ix.Src.IndexQueue(ctx, after, size)
			if err != nil || len(seqs) == 0 {
				if err != nil {
					ch <- built{err: err}
				}
				return
			}
			after = seqs[len(seqs)-1]
			recs, err := ix.Src.RecordsBySeq(ctx, seqs)
			var docs []Doc
			if err == nil {
				docs, err = ix.build(ctx, recs, logger)
			}
			select {
			case ch <- built{seqs, docs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	done := 0
	for b := range ch {
		if b.err != nil {
			return done, b.err
		}
		if err := ix.Index.Index(ctx, b.docs); err != nil {
			return done, err
		}
		if err := ix.Src.IndexDone(ctx, b.seqs); err != nil {
			return done, err
		}
		done += len(b.seqs)
		if ix.Progress != nil {
			ix.Progress(done)
		}
	}
	return done, ctx.Err()
}

func (ix *Indexer) build(ctx context.Context, recs []*catalog.Record, logger *slog.Logger) ([]Doc, error) {
	// Threads first, in archive order (a reply finds its parent's thread).
	metas := make([]recordMeta, len(recs))
	tin := make([]catalog.ThreadInput, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Meta, &metas[i]); err != nil {
			return nil, fmt.Errorf("record %s: metadata: %w", r.SHA256, err)
		}
		m := metas[i]
		ids := append([]string{}, m.MessageID)
		ids = append(ids, m.InReplyTo...)
		ids = append(ids, m.References...)
		tin[i] = catalog.ThreadInput{Seq: r.Seq, IDs: nonEmptyLower(ids), Subject: NormalizeSubject(m.Subject), Date: r.Date}
	}
	threads, err := ix.Src.AssignThreads(ctx, tin, 90*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("threads: %w", err)
	}
	docs := make([]Doc, len(recs))
	errs := make([]error, len(recs))
	workers := ix.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				raw, err := ix.Read(ctx, recs[i])
				if err != nil {
					errs[i] = fmt.Errorf("read %s: %w", recs[i].SHA256, err)
					continue
				}
				docs[i] = ix.doc(ctx, recs[i], metas[i], raw, logger)
				docs[i].Thread = threads[i]
			}
		}()
	}
	for i := range recs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// ReceptionSource is implemented by sources that can list a record's
// receptions (the catalog): their envelope addresses join the read rule's
// participants in the index ("reader").
type ReceptionSource interface {
	Receptions(ctx context.Context, seq int64) ([]catalog.Reception, error)
}

// envelope returns the MAIL FROM and RCPT TO addresses of a record's
// receptions (none for imported mail, or when the source cannot list them).
func (ix *Indexer) envelope(ctx context.Context, r *catalog.Record, logger *slog.Logger) []string {
	rs, ok := ix.Src.(ReceptionSource)
	if !ok {
		return nil
	}
	recps, err := rs.Receptions(ctx, r.Seq)
	if err != nil {
		logger.Warn("receptions not read for the index", "record", r.SHA256[:16], "err", err)
		return nil
	}
	var out []string
	for _, rc := range recps {
		var e struct {
			MailFrom string   `json:"mail_from"`
			RcptTo   []string `json:"rcpt_to"`
		}
		if json.Unmarshal([]byte(rc.Envelope), &e) != nil {
			continue
		}
		if e.MailFrom != "" {
			out = append(out, e.MailFrom)
		}
		out = append(out, e.RcptTo...)
	}
	return out
}

// recordMeta is the part of the metadata document the index uses.
type recordMeta struct {
	MessageID   string    `json:"message_id"`
	Subject     string    `json:"subject"`
	InReplyTo   []string  `json:"in_reply_to"`
	References  []string  `json:"references"`
	From        []Address `json:"from"`
	To          []Address `json:"to"`
	Cc          []Address `json:"cc"`
	Bcc         []Address `json:"bcc"`
	Sender      []Address `json:"sender"`
	ReplyTo     []Address `json:"reply_to"`
	Attachments []struct {
		Filename string `json:"filename"`
	} `json:"attachments"`
}

func (a *Address) UnmarshalJSON(b []byte) error {
	var v struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Name, a.Address = v.Name, v.Address
	return nil
}

func nonEmptyLower(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		id = strings.ToLower(strings.Trim(id, "<> \t"))
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

var replyPrefix = regexp.MustCompile(`^(?i)\s*((re|rv|res|fw|fwd|enc|reenv|aw|tr|r)\s*(\[\d+\])?\s*:\s*|\[[^\]]{1,40}\]\s*)+`)

// NormalizeSubject strips reply/forward prefixes (Re:, RV:, Fwd:, RE:, [lista]) and
// folds case and spaces, for threading by subject.
func NormalizeSubject(s string) string {
	s = replyPrefix.ReplaceAllString(s, "")
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func (ix *Indexer) doc(ctx context.Context, r *catalog.Record, m recordMeta, raw []byte, logger *slog.Logger) Doc {
	d := Doc{ID: r.SHA256, Date: r.Date, ArchivedAt: r.ArchivedAt, Subject: m.Subject, From: m.From, To: m.To, Cc: m.Cc,
		Bcc: m.Bcc, Sender: m.Sender, ReplyTo: m.ReplyTo, MessageID: m.MessageID, Size: r.Size, Channel: r.Channel, Malformed: r.Malformed}
	d.Envelope = ix.envelope(ctx, r, logger)
	msg := message.Parse(raw, message.Limits{})
	var plain, html []string
	var att []string
	var enclosed []string // paths of attached messages: extract.Text reads their parts
	for _, p := range msg.Parts {
		inside := false
		for _, e := range enclosed {
			if strings.HasPrefix(p.Path, e+".") {
				inside = true
			}
		}
		if inside {
			continue
		}
		if p.ContentType == "message/rfc822" || p.ContentType == "message/global" {
			enclosed = append(enclosed, p.Path)
		}
		if p.Attachment {
			d.HasAttach = true
			if p.Filename != "" {
				d.Filenames = append(d.Filenames, p.Filename)
			}
			data, err := message.DecodePart(raw, p)
			if err != nil {
				continue
			}
			res := extract.Text(ctx, data, p.ContentType, p.Filename, ix.Limits)
			if res.Err != nil && res.Kind != "unsupported" {
				logger.Debug("attachment text not extracted", "record", r.SHA256[:16], "part", p.Path, "err", res.Err)
			}
			if res.Text != "" {
				att = append(att, res.Text)
			}
			continue
		}
		data, err := message.DecodePart(raw, p)
		if err != nil {
			continue
		}
		switch p.ContentType {
		case "text/plain", "text/enriched", "text/csv":
			plain = append(plain, message.DecodeText(data, p.Charset))
		case "text/html":
			html = append(html, extract.HTML([]byte(message.DecodeText(data, p.Charset))))
		}
	}
	if len(plain) > 0 {
		d.Body = strings.Join(plain, "\n")
	} else {
		d.Body = strings.Join(html, "\n")
	}
	d.Attachments = strings.Join(att, "\n")
	return d
}
