package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// bufSize is the read buffer of an mbox: From_ lines, quoting prefixes and
// Content-Length confirmations are looked for within it.
const bufSize = 1 << 20

// MboxReader splits an mbox stream into messages, holding one message at a time
// (see the package documentation for the framing rules).
type MboxReader struct {
	br     *bufio.Reader
	ra     io.ReaderAt // optional: confirms Content-Length beyond the buffer
	raBase int64       // offset in ra of the first byte of br
	name   string
	cfg    config
	strict bool // From_ lines must have the RFC 4155 shape (all formats but mboxo)

	off        int64 // bytes consumed so far
	started    bool
	eof        bool
	pending    bool  // the From_ line of the next message is consumed already
	pendingOff int64 // its offset
	carry      int64 // bytes of dropped blank preamble, added to the next Input
	err        error // sticky error
}

// NewMboxReader returns a reader of the mbox in r. name is used in Item.Source
// ("NAME:OFFSET") and in errors. Options.OnSkip is not used. If r also implements
// io.ReaderAt and io.Seeker (an *os.File does), long Content-Length bodies are
// confirmed with ReadAt, relative to r's current position.
func NewMboxReader(r io.Reader, name string, opt Options) (*MboxReader, error) {
	cfg, err := newConfig(opt)
	if err != nil {
		return nil, err
	}
	var ra io.ReaderAt
	var base int64
	if a, ok := r.(io.ReaderAt); ok {
		if s, ok := r.(io.Seeker); ok {
			if pos, err := s.Seek(0, io.SeekCurrent); err == nil {
				ra, base = a, pos
			}
		}
	}
	size := int64(bufSize)
	if l, ok := r.(interface{ Len() int }); ok {
		size = int64(l.Len()) // in memory (bytes.Reader, strings.Reader): no bigger buffer
	}
	return newMboxReader(bufio.NewReaderSize(r, readBufSize(size)), ra, base, name, cfg), nil
}

// readBufSize sizes the read buffer for an input of size bytes: bufSize, or less for
// a smaller input. The framing does not depend on it: every line of the input still
// fits in the buffer, and Content-Length is confirmed with io.ReaderAt past it.
func readBufSize(size int64) int {
	if size < 0 || size >= bufSize {
		return bufSize
	}
	return max(int(size)+1, sniffSize)
}

func newMboxReader(br *bufio.Reader, ra io.ReaderAt, base int64, name string, cfg config) *MboxReader {
	return &MboxReader{br: br, ra: ra, raBase: base, name: name, cfg: cfg, strict: cfg.format != MboxO}
}

// Next returns the next message, or io.EOF after the last one. A message that could
// not be taken (too large, empty) is an Item with Err set and a nil error; the
// reader carries on with the next one. A non-nil error (a read error, wrapped in a
// *ReadError, or ctx.Err()) ends the stream: later calls return it again.
func (r *MboxReader) Next(ctx context.Context) (Item, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Item{}, err
		}
		if r.err != nil {
			return Item{}, r.err
		}
		if !r.started {
			r.start()
			continue
		}
		if r.eof && !r.pending {
			return Item{}, io.EOF
		}
		it, keep, err := r.message(ctx)
		if err != nil {
			r.err = err
			return Item{}, err
		}
		if !keep {
			r.carry += it.Input
			continue
		}
		it.Input += r.carry
		r.carry = 0
		return it, nil
	}
}

// start drops a UTF-8 byte order mark at the beginning of the stream.
func (r *MboxReader) start() {
	r.started = true
	p, err := r.br.Peek(len(bom))
	if string(p) == bom {
		r.br.Discard(len(bom))
		r.off += int64(len(bom))
		r.carry += int64(len(bom))
		return
	}
	if err != nil && err != io.EOF {
		r.err = &ReadError{Path: r.name, Offset: 0, Err: err}
	}
}

// msg is the message being read.
type msg struct {
	start   int64 // offset of the From_ line, or of the first line when there is none
	from    bool  // it has a From_ line
	buf     []byte
	size    int64 // bytes taken so far (also while discarding)
	tooBig  bool
	quotes  []int // positions in buf of quoting '>' to remove if not Content-Length framed
	cl      int64 // Content-Length value, -1 when invalid
	clCount int
}

// message reads one message. keep is false for a blank stretch with no From_ line
// (the tolerated preamble), which is dropped.
func (r *MboxReader) message(ctx context.Context) (Item, bool, error) {
	m := &msg{start: r.off, cl: -1}
	if r.pending {
		m.start, m.from, r.pending = r.pendingOff, true, false
	}
	canCL := r.cfg.format == MboxAuto || r.cfg.format == MboxCL2
	unquote := r.cfg.format != MboxCL2
	inHeader := true
	atStart := true
	framed := false // body taken by Content-Length
	for lines := 0; ; lines++ {
		if lines&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return Item{}, false, err
			}
		}
		frag, err := r.br.ReadSlice('\n')
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return Item{}, false, &ReadError{Path: r.name, Offset: m.start, Err: err}
		}
		if len(frag) == 0 && err == io.EOF {
			r.eof = true
			break
		}
		whole := err != bufio.ErrBufferFull
		lineStart := atStart
		if lineStart && whole && isFromLine(frag, r.strict) {
			if !m.from && r.off == m.start {
				// The first line of this stretch: it is our own From_ line.
				m.from = true
				r.off += int64(len(frag))
				if err == io.EOF {
					r.eof = true
					break
				}
				continue
			}
			r.pending, r.pendingOff = true, r.off
			r.off += int64(len(frag))
			if err == io.EOF {
				r.eof = true
			}
			break
		}
		r.off += int64(len(frag))
		atStart = err == nil
		content := frag
		endOfHeader := false
		if lineStart && inHeader {
			if isEmptyLine(frag) {
				inHeader, endOfHeader = false, true
			} else if n, ok := contentLength(frag); ok && canCL {
				m.cl, m.clCount = n, m.clCount+1
			}
		}
		if lineStart && unquote {
			if q := quotedFrom(frag); q > 0 && (r.strict || q == 1) {
				if canCL && inHeader {
					if !m.tooBig {
						m.quotes = append(m.quotes, len(m.buf))
					}
				} else {
					content = frag[1:]
				}
			}
		}
		r.take(m, content)
		if endOfHeader {
			if canCL && m.from && m.clCount == 1 && m.cl >= 0 && r.confirm(m.cl) {
				if err := r.body(m, m.cl); err != nil {
					return Item{}, false, err
				}
				framed = true
				break
			}
			m.unquoteHeader()
		}
		if err == io.EOF {
			r.eof = true
			break
		}
	}
	if !framed {
		m.unquoteHeader()
	}
	end := r.off
	if r.pending {
		end = r.pendingOff // the next message's From_ line is not ours
	}
	it := Item{Source: mboxSource(r.name, m.start), Format: FormatMbox, Input: end - m.start}
	if !m.from && !m.tooBig && isBlank(m.buf) {
		return it, false, nil
	}
	data := m.buf
	if !framed {
		data = stripSeparator(data)
	}
	switch {
	case m.tooBig || int64(len(data)) > r.cfg.maxSize:
		it.Err = &ReadError{Path: r.name, Offset: m.start, Err: tooLarge(m.size, r.cfg.maxSize)}
	case len(data) == 0:
		it.Err = &ReadError{Path: r.name, Offset: m.start, Err: ErrEmpty}
	default:
		it.Data = data
	}
	return it, true, nil
}

// take appends b to the message, or only counts it once the message is too large.
// Two bytes of slack leave room for the separator line that is removed at the end.
func (r *MboxReader) take(m *msg, b []byte) {
	m.size += int64(len(b))
	if m.tooBig {
		return
	}
	if m.size > r.cfg.maxSize+2 {
		m.tooBig, m.buf, m.quotes = true, nil, nil
		return
	}
	m.buf = append(m.buf, b...)
}

// unquoteHeader removes the quoting '>' recorded while reading the header block.
func (m *msg) unquoteHeader() {
	if len(m.quotes) == 0 || m.tooBig {
		m.quotes = nil
		return
	}
	out := m.buf[:m.quotes[0]]
	for i, q := range m.quotes {
		end := len(m.buf)
		if i+1 < len(m.quotes) {
			end = m.quotes[i+1]
		}
		out = append(out, m.buf[q+1:end]...)
	}
	m.buf, m.quotes = out, nil
}

// confirm reports whether a Content-Length of n is borne out by the input: the n
// bytes after the current position are followed by end of input, or by at most one
// empty line and then end of input or a From_ line.
func (r *MboxReader) confirm(n int64) bool {
	after, atEOF, ok := r.peekAt(n, 2+maxFromLine)
	if !ok {
		return false
	}
	switch {
	case bytes.HasPrefix(after, []byte("\n")):
		after = after[1:]
	case bytes.HasPrefix(after, []byte("\r\n")):
		after = after[2:]
	}
	if len(after) == 0 {
		return atEOF
	}
	line := after
	if i := bytes.IndexByte(after, '\n'); i >= 0 {
		line = after[:i+1]
	} else if !atEOF {
		return false
	}
	return isFromLine(line, r.strict)
}

// peekAt returns up to k bytes starting n bytes past the read position without
// consuming anything; atEOF says the input ends within them. ok is false when the
// input ends before n, or when the bytes lie beyond the buffer and there is no
// io.ReaderAt to read them.
func (r *MboxReader) peekAt(n int64, k int) (b []byte, atEOF, ok bool) {
	size := int64(r.br.Size())
	if n <= size {
		want := min(n+int64(k), size)
		p, err := r.br.Peek(int(want))
		switch {
		case err != nil && err != io.EOF:
			return nil, false, false
		case int64(len(p)) < want: // the input ends inside the buffer
			if int64(len(p)) < n {
				return nil, false, false
			}
			return p[n:], true, true
		case want == n+int64(k):
			return p[n:], false, true
		}
	}
	if r.ra == nil {
		return nil, false, false
	}
	// Read from one byte before, to tell "ends exactly at n" from "ends before n".
	p := make([]byte, k+1)
	got, err := r.ra.ReadAt(p, r.raBase+r.off+n-1)
	if err != nil && err != io.EOF || got == 0 {
		return nil, false, false
	}
	return p[1:got], got < len(p), true
}

// body takes the n bytes of a confirmed Content-Length body, then the one empty line
// after it. The From_ line that follows is left for the next message.
func (r *MboxReader) body(m *msg, n int64) error {
	m.size += n
	if m.tooBig || m.size > r.cfg.maxSize {
		m.tooBig, m.buf, m.quotes = true, nil, nil
		if _, err := io.CopyN(io.Discard, r.br, n); err != nil {
			return r.readErr(m, err)
		}
	} else {
		have := len(m.buf)
		m.buf = append(m.buf, make([]byte, n)...)
		if _, err := io.ReadFull(r.br, m.buf[have:]); err != nil {
			return r.readErr(m, err)
		}
	}
	r.off += n
	p, err := r.br.Peek(2)
	switch {
	case bytes.HasPrefix(p, []byte("\n")):
		r.br.Discard(1)
		r.off++
	case bytes.HasPrefix(p, []byte("\r\n")):
		r.br.Discard(2)
		r.off += 2
	case err != nil && err != io.EOF:
		return r.readErr(m, err)
	}
	return nil
}

func (r *MboxReader) readErr(m *msg, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the input shrank after Content-Length was confirmed
	}
	return &ReadError{Path: r.name, Offset: m.start, Err: err}
}
