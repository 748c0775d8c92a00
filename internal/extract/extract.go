package extract

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors reported in Result.Err, always wrapped with detail; test them with
// errors.Is.
var (
	ErrTooLarge    = errors.New("extract: too large")
	ErrTimeout     = errors.New("extract: timeout")
	ErrUnsupported = errors.New("extract: unsupported format")
	ErrCorrupt     = errors.New("extract: corrupt file")
)

// Defaults for zero (or negative) Limits fields.
const (
	DefaultMaxInput    = 32 << 20
	DefaultMaxText     = 1 << 20
	DefaultTimeout     = 5 * time.Second
	DefaultMaxDepth    = 3
	DefaultMaxZipFiles = 2000
)

// inflateFactor bounds the bytes decompressed for one file (zip entries, PDF
// streams, nested attachments together) to inflateFactor × MaxInput.
const inflateFactor = 8

// Limits bound the work done on one file. Zero or negative fields take the
// defaults above.
type Limits struct {
	MaxInput    int64         // bytes of one file considered (default 32 MiB; larger → ErrTooLarge, text empty)
	MaxText     int           // bytes of text kept per file (default 1 MiB; truncation is not an error, Truncated is set)
	Timeout     time.Duration // per file (default 5 s)
	MaxDepth    int           // message/rfc822 nesting (default 3)
	MaxZipFiles int           // entries of an OOXML/ODF zip (default 2000); more → ErrTooLarge
}

func (l Limits) withDefaults() Limits {
	if l.MaxInput <= 0 {
		l.MaxInput = DefaultMaxInput
	}
	if l.MaxText <= 0 {
		l.MaxText = DefaultMaxText
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxZipFiles <= 0 {
		l.MaxZipFiles = DefaultMaxZipFiles
	}
	return l
}

// Result is the text of one file and how it was obtained.
type Result struct {
	Text      string // UTF-8, whitespace-normalised (runs of blanks → one space, runs holding a line break → one newline)
	Kind      string // "text", "html", "pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "rtf", "csv", "message", "unsupported"
	Truncated bool   // Text stopped at MaxText, or nested messages beyond MaxDepth were skipped
	Err       error  // ErrTooLarge, ErrTimeout, ErrUnsupported or ErrCorrupt, wrapped with detail
}

// Text extracts the text of data, a file whose MIME type and filename are
// given; either may be empty or wrong, so the content is sniffed first (see
// the package documentation). It never panics and returns within about
// lim.Timeout; ctx may end it sooner (reported as ErrTimeout). When Err is
// ErrTimeout or ErrCorrupt, Text holds what was extracted before the failure.
func Text(ctx context.Context, data []byte, contentType, filename string, lim Limits) (res Result) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxInput {
		return Result{Kind: quickKind(data, contentType, filename),
			Err: fmt.Errorf("%d bytes, limit %d: %w", len(data), lim.MaxInput, ErrTooLarge)}
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	x := &extractor{ctx: ctx, lim: lim, out: textBuf{max: lim.MaxText},
		maxInflate: inflateFactor * lim.MaxInput}
	defer func() {
		// Parsers of hostile formats must not take the indexer down: a
		// panic here is a bug, reported as a corrupt file and made a
		// failure by the fuzz test.
		if r := recover(); r != nil {
			res = Result{Text: x.out.String(), Kind: res.Kind, Truncated: x.out.truncated,
				Err: fmt.Errorf("internal error: %v: %w", r, ErrCorrupt)}
			if res.Kind == "" {
				res.Kind = "unsupported"
			}
		}
	}()
	res.Kind = quickKind(data, contentType, filename)
	kind, err := x.extract(data, contentType, filename, 0)
	if err == nil && x.timedOut != nil {
		err = x.timedOut
	}
	return Result{Text: x.out.String(), Kind: kind, Truncated: x.out.truncated || x.skipped, Err: err}
}

// HTML returns the visible text of an HTML document: no script, style or
// head content, character references decoded, block elements as line
// breaks, whitespace normalised as in Result.Text. data is taken as UTF-8
// (invalid bytes become U+FFFD). The output is not truncated.
func HTML(data []byte) string {
	x := &extractor{ctx: context.Background(), out: textBuf{max: int(^uint(0) >> 1)}}
	x.html(data)
	return x.out.String()
}

// extractor holds the state of one Text call. The text of nested files
// (attachments of a message) goes into the same buffer, under the same
// deadline and decompression budget.
type extractor struct {
	ctx        context.Context
	lim        Limits
	out        textBuf
	inflated   int64 // bytes decompressed so far
	maxInflate int64
	ticks      int
	timedOut   error // sticky: set once the deadline passed
	skipped    bool  // content beyond MaxDepth was left out
}

// alive reports ErrTimeout once the context is done. Loops call it per
// unit of work; it looks at the context every 64 calls.
func (x *extractor) alive() error {
	if x.timedOut != nil {
		return x.timedOut
	}
	x.ticks++
	if x.ticks&63 != 0 {
		return nil
	}
	return x.checkNow()
}

// checkNow looks at the context without waiting for the tick.
func (x *extractor) checkNow() error {
	if x.timedOut != nil {
		return x.timedOut
	}
	if err := x.ctx.Err(); err != nil {
		x.timedOut = fmt.Errorf("after %v: %w: %w", x.lim.Timeout, ErrTimeout, err)
		return x.timedOut
	}
	return nil
}

// inflate counts n more decompressed bytes against the budget.
func (x *extractor) inflate(n int, what string) error {
	x.inflated += int64(n)
	if x.maxInflate > 0 && x.inflated > x.maxInflate {
		return fmt.Errorf("%s decompresses past %d bytes: %w", what, x.maxInflate, ErrTooLarge)
	}
	return nil
}

// budgetReader counts what it reads against the decompression budget and
// stops at the deadline.
type budgetReader struct {
	x    *extractor
	r    interface{ Read([]byte) (int, error) }
	what string
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if err := b.x.checkNow(); err != nil {
		return 0, err
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := b.r.Read(p)
	if e := b.x.inflate(n, b.what); e != nil {
		return n, e
	}
	return n, err
}

// extract dispatches data to the extractor of its kind and returns the kind.
func (x *extractor) extract(data []byte, contentType, filename string, depth int) (string, error) {
	if err := x.checkNow(); err != nil {
		return quickKind(data, contentType, filename), err
	}
	mt, ext := mediaType(contentType), extension(filename)
	claimed := claimedKind(mt, ext)
	switch magic := sniffMagic(data); magic {
	case "pdf":
		return "pdf", x.pdf(data)
	case "rtf":
		return "rtf", x.rtf(data)
	case "zip":
		return x.zipDoc(data, claimed)
	case "binary":
		return "unsupported", fmt.Errorf("binary content (%s): %w", describe(mt, ext), ErrUnsupported)
	}
	kind := claimed
	if kind == "" {
		kind = sniffText(data)
	}
	switch kind {
	case "text":
		x.plain(data)
		return kind, x.timedOut
	case "html":
		return kind, x.html(data)
	case "csv":
		return kind, x.csv(data)
	case "message":
		if depth > x.lim.MaxDepth {
			x.skipped = true
			return kind, nil
		}
		return kind, x.message(data, depth)
	case "rtf":
		// Labelled RTF without the {\rtf signature: read it as text.
		x.plain(data)
		return "text", x.timedOut
	case "pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp":
		if len(data) == 0 {
			return kind, nil
		}
		return kind, fmt.Errorf("%s without its file signature: %w", kind, ErrCorrupt)
	}
	return "unsupported", fmt.Errorf("%s: %w", describe(mt, ext), ErrUnsupported)
}

func describe(mt, ext string) string {
	switch {
	case mt != "" && ext != "":
		return mt + ", " + ext
	case mt != "":
		return mt
	case ext != "":
		return ext
	}
	return "unknown type"
}
