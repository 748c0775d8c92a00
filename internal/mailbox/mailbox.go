package mailbox

import (
	"errors"
	"fmt"
	"strconv"
)

// Format is what a path turned out to be.
type Format string

// Formats of an Item.
const (
	FormatEML     Format = "eml"     // a single message file (any name)
	FormatMbox    Format = "mbox"    // one message out of an mbox file
	FormatMaildir Format = "maildir" // a file in a maildir's cur/ or new/
)

// Mbox variants accepted in Options.MboxFormat.
const (
	MboxAuto = "auto"
	MboxRD   = "mboxrd"
	MboxO    = "mboxo"
	MboxCL2  = "mboxcl2"
)

// defaultSize is the default Options.MaxMessageSize.
const defaultSize = 256 << 20

// Item is one message found by Scan or MboxReader.
type Item struct {
	// Source says where the message came from: the absolute file path for a single
	// message or maildir file; "PATH:OFFSET" for an mbox message, OFFSET being the byte
	// offset of its From_ line. Stable across runs over the same files.
	Source string
	// Format is what the path turned out to be; empty when Err is set and the path
	// could not be opened or classified.
	Format Format
	// Data holds the message bytes exactly (for mbox: without the From_ line, unquoted,
	// without the trailing separator line). Nil when Err is set.
	Data []byte
	// Input is how many input bytes this item consumed (for progress). For mbox it
	// includes the From_ line and separator lines.
	Input int64
	// Err is set when the item could not be read; see ErrTooLarge, ErrEmpty, *ReadError.
	Err error
}

// Skip is a file a directory walk did not treat as mail.
type Skip struct {
	Path   string
	Reason string
}

// Options configure Scan, Estimate and MboxReader. The zero value is ready to use.
type Options struct {
	// MboxFormat is "auto" (or empty), "mboxrd", "mboxo" or "mboxcl2"; see the package
	// documentation for what each one means.
	MboxFormat string
	// MaxMessageSize bounds one message (default 256 MiB). Larger messages become an
	// Item with ErrTooLarge.
	MaxMessageSize int64
	// OnSkip, when not nil, is told about every file a directory walk leaves out
	// (except the known non-mail files of mail servers, which are skipped silently).
	OnSkip func(Skip)
}

// Errors reported in Item.Err (wrapped in a *ReadError naming the path).
var (
	ErrTooLarge = errors.New("mailbox: message too large")
	ErrEmpty    = errors.New("mailbox: empty message")
)

// ReadError is a failure to read one item: it names the path and, for mbox
// messages, the byte offset of the message's From_ line (Offset is -1 otherwise).
type ReadError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *ReadError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("read %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("read %s at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// config is Options after validation.
type config struct {
	format  string
	maxSize int64
	onSkip  func(Skip)
}

func newConfig(opt Options) (config, error) {
	c := config{format: opt.MboxFormat, maxSize: opt.MaxMessageSize, onSkip: opt.OnSkip}
	switch c.format {
	case "":
		c.format = MboxAuto
	case MboxAuto, MboxRD, MboxO, MboxCL2:
	default:
		return config{}, fmt.Errorf("mailbox: unknown mbox format %q (want auto, mboxrd, mboxo or mboxcl2)", opt.MboxFormat)
	}
	if c.maxSize <= 0 {
		c.maxSize = defaultSize
	}
	if c.onSkip == nil {
		c.onSkip = func(Skip) {}
	}
	return c, nil
}

func tooLarge(size, limit int64) error {
	return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, limit)
}

func mboxSource(path string, off int64) string {
	return path + ":" + strconv.FormatInt(off, 10)
}
