package smtpgw

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// contentScan is what the gateway learns from one pass over a message.
type contentScan struct {
	bareCR, bareLF bool
	nul            bool
	eightBit       bool
	// headerEnd is the length of the header section including the empty
	// line, or -1 when the message has no empty line.
	headerEnd int
}

func scanContent(data []byte) contentScan {
	sc := contentScan{headerEnd: -1}
	sc.nul = bytes.IndexByte(data, 0) >= 0
	for _, b := range data {
		if b >= 0x80 {
			sc.eightBit = true
			break
		}
	}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		if i+j == 0 || data[i+j-1] != '\r' {
			sc.bareLF = true
			break
		}
		i += j + 1
	}
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\r')
		if j < 0 {
			break
		}
		if i+j+1 >= len(data) || data[i+j+1] != '\n' {
			sc.bareCR = true
			break
		}
		i += j + 1
	}
	switch {
	case bytes.HasPrefix(data, []byte("\r\n")):
		sc.headerEnd = 2
	default:
		if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
			sc.headerEnd = i + 4
		}
	}
	return sc
}

// readData reads a whole message from go-smtp's DATA (or BDAT) reader.
// In DATA mode the read deadline is moved forward for every KiB, so that
// Config.ReadTimeout bounds each KiB of data and Config.DataTimeout the
// whole transfer (go-smtp alone sets one deadline at the DATA command,
// for the whole message).
func (s *session) readData(r io.Reader) ([]byte, *smtp.SMTPError) {
	cfg := s.c.s.cfg
	if _, bdat := r.(*io.PipeReader); !bdat {
		r = &deadlineReader{
			r:    r,
			conn: s.sc.Conn(),
			idle: cfg.ReadTimeout,
			end:  time.Now().Add(cfg.DataTimeout),
		}
	}
	var buf bytes.Buffer
	_, err := io.Copy(&buf, io.LimitReader(r, cfg.MaxMessageBytes+1))
	if err == nil && int64(buf.Len()) > cfg.MaxMessageBytes {
		err = smtp.ErrDataTooLarge
	}
	if err == nil {
		return buf.Bytes(), nil
	}
	var ne net.Error
	switch {
	case err == smtp.ErrDataTooLarge:
		s.c.log.Info("message too large", "limit", cfg.MaxMessageBytes)
		return nil, errTooLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		s.c.log.Info("message line too long", "limit", cfg.MaxLineLength)
		return nil, errLineTooLong
	case errors.As(err, &ne) && ne.Timeout():
		s.c.log.Info("timeout reading message", "bytes", buf.Len())
		s.c.guard.closeAfterReply.Store(true)
		return nil, errTimeout
	case errors.Is(err, smtp.ErrDataReset):
		return nil, smtpErr(554, 5, 5, 0, "Message transfer aborted")
	default:
		s.c.log.Info("reading message", "err", err, "bytes", buf.Len())
		return nil, errTempFail
	}
}

type deadlineReader struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
	end  time.Time
}

// dataChunk is the most a deadlineReader asks for at once: go-smtp's
// DATA reader returns only when the buffer is full, so the idle timeout
// applies to each chunk.
const dataChunk = 1024

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(p) > dataChunk {
		p = p[:dataChunk]
	}
	t := time.Now().Add(d.idle)
	if t.After(d.end) {
		t = d.end
	}
	if err := d.conn.SetReadDeadline(t); err != nil {
		return 0, err
	}
	return d.r.Read(p)
}

// checkContent applies the gateway's own content rules to a complete
// message and returns the flags to record.
func (s *session) checkContent(data []byte, env *Envelope) *smtp.SMTPError {
	cfg := s.c.s.cfg
	sc := scanContent(data)
	if sc.bareCR || sc.bareLF {
		s.c.log.Warn("message with bare line ending refused", "bare_cr", sc.bareCR, "bare_lf", sc.bareLF)
		s.c.guard.closeAfterReply.Store(true)
		return errBareEOL
	}
	if sc.nul {
		if cfg.RejectNUL {
			s.c.log.Info("message with NUL refused")
			return errNUL
		}
		env.Flags |= FlagNUL
	}
	if sc.eightBit && env.Body != string(smtp.Body8BitMIME) && !env.SMTPUTF8 {
		env.Flags |= Flag8BitWithout8BITMIME
	}
	hdr := sc.headerEnd
	if hdr < 0 {
		env.Flags |= FlagNoHeaderBody
		hdr = len(data)
	}
	if hdr > cfg.MaxHeaderBytes {
		s.c.log.Info("message header too large", "bytes", hdr, "limit", cfg.MaxHeaderBytes)
		return errHeaderTooLarge
	}
	return nil
}

// headerFrom returns the addresses of the message's single From field.
func headerFrom(data []byte) ([]string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	froms := m.Header["From"]
	if len(froms) != 1 {
		return nil, fmt.Errorf("%d From fields", len(froms))
	}
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: anyCharset}}
	list, err := p.ParseList(froms[0])
	if err != nil {
		return nil, fmt.Errorf("parse From: %w", err)
	}
	if len(list) == 0 {
		return nil, errors.New("empty From")
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, nil
}

// anyCharset lets display names in any charset through: only the
// addresses matter here.
func anyCharset(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// fromAllowed reports whether addr is one of id's allowed From addresses.
func fromAllowed(id *Identity, addr string) bool {
	addr = strings.ToLower(strings.TrimSpace(addr))
	_, dom, ok := splitAddr(addr)
	if !ok {
		return false
	}
	for _, a := range id.AllowedFrom {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == addr || (strings.HasPrefix(a, "@") && a[1:] == dom) {
			return true
		}
	}
	return false
}
