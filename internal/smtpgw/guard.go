package smtpgw

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// rawConn is the accepted TCP connection. It counts successful writes so
// that the guard can tell go-smtp's reply writes from its reads (see
// guard.Write), and signals when it is closed.
type rawConn struct {
	net.Conn
	writes    atomic.Uint64
	closeOnce sync.Once
	closed    chan struct{}
}

func newRawConn(c net.Conn) *rawConn {
	return &rawConn{Conn: c, closed: make(chan struct{})}
}

func (c *rawConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && n > 0 {
		c.writes.Add(1)
	}
	return n, err
}

func (c *rawConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { close(c.closed) })
	return err
}

// guard watches the plaintext SMTP stream of one connection. go-smtp copies
// every plaintext byte it reads and every reply line it writes to
// Server.Debug (io.TeeReader and io.MultiWriter, after TLS, before
// dot-unstuffing); we give each connection its own go-smtp Server whose
// Debug is a guard. The guard
//
//   - detects a bare CR or bare LF anywhere in what the client sends
//     (commands, DATA, BDAT chunks), exactly as on the wire: this is what
//     every SMTP smuggling variant needs, including "<CR><LF>.<CR>" whose
//     CR go-smtp's DATA reader drops;
//   - counts replies (commands) and 4xx/5xx replies, and closes the
//     connection with 421 beyond Config.MaxCommands and Config.MaxErrors;
//   - closes the connection after the next reply once the stream was
//     poisoned by a bare line ending (Postfix smtpd_forbid_bare_newline).
//
// Telling reads from writes: go-smtp writes a reply to the connection
// (which reaches rawConn.Write, directly or through crypto/tls) before
// copying it to Debug. A chunk is a write when rawConn saw a successful
// write since the previous chunk and the chunk is exactly one reply line.
// A read misclassified that way (possible only when TLS itself wrote
// during a read, e.g. a KeyUpdate) is a single CRLF-terminated line with no
// other CR or LF, so no bare line ending can hide in it.
type guard struct {
	raw *rawConn
	log *slog.Logger

	maxReplies int
	maxErrors  int

	// Used only by go-smtp's connection goroutine (Debug writes and
	// NewSession).
	lastWrites uint64
	pendingCR  bool
	replies    int
	errors     int
	plain      net.Conn // where a 421 can be written; nil right after STARTTLS

	bareEOL         atomic.Bool
	closeAfterReply atomic.Bool
	killed          atomic.Bool
}

func newGuard(raw *rawConn, cfg Config, log *slog.Logger) *guard {
	return &guard{
		raw:        raw,
		log:        log,
		maxReplies: cfg.MaxCommands + 1, // the greeting is a reply too; closed after the last allowed command
		maxErrors:  cfg.MaxErrors,
		plain:      raw,
	}
}

// Write receives go-smtp's debug copy of the stream. It never fails.
func (g *guard) Write(p []byte) (int, error) {
	w := g.raw.writes.Load()
	isWrite := w != g.lastWrites && looksLikeReply(p)
	g.lastWrites = w
	if isWrite {
		g.onReply(p)
	} else {
		g.onRead(p)
	}
	return len(p), nil
}

// looksLikeReply reports whether p is exactly one reply line:
// three digits, ' ' or '-', text without CR or LF, CRLF.
func looksLikeReply(p []byte) bool {
	if len(p) < 6 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' {
		return false
	}
	if p[3] != ' ' && p[3] != '-' {
		return false
	}
	if !bytes.HasSuffix(p, []byte("\r\n")) {
		return false
	}
	return bytes.IndexAny(p[4:len(p)-2], "\r\n") < 0
}

func (g *guard) onRead(p []byte) {
	bare := false
	for _, b := range p {
		if g.pendingCR {
			g.pendingCR = false
			if b == '\n' {
				continue
			}
			bare = true
		}
		switch b {
		case '\r':
			g.pendingCR = true
		case '\n':
			bare = true
		}
	}
	if bare && !g.bareEOL.Swap(true) {
		g.log.Warn("bare CR or LF from client; closing after the next reply")
		g.closeAfterReply.Store(true)
	}
}

func (g *guard) onReply(p []byte) {
	if p[3] != ' ' { // continuation line of a multi-line reply
		return
	}
	code := int(p[0]-'0')*100 + int(p[1]-'0')*10 + int(p[2]-'0')
	g.replies++
	if code == 220 && g.replies > 1 {
		// STARTTLS accepted: go-smtp now builds its own *tls.Conn, which
		// we learn in the next NewSession.
		g.plain = nil
	}
	if code >= 400 {
		g.errors++
	}
	switch {
	case code == 421:
		g.kill("")
	case g.closeAfterReply.Load():
		g.kill("421 4.5.2 Bare CR or LF received, closing connection")
	case g.replies >= g.maxReplies:
		g.log.Warn("too many commands", "replies", g.replies)
		g.kill("421 4.7.0 Too many commands, closing connection")
	case g.errors > g.maxErrors:
		g.log.Warn("too many errors", "errors", g.errors)
		g.kill("421 4.7.0 Too many errors, closing connection")
	}
}

// setPlain records the connection go-smtp currently writes to.
func (g *guard) setPlain(c net.Conn) { g.plain = c }

// kill writes msg (if any and if possible) and closes the connection. Any
// command go-smtp still has buffered is refused by the session (killed).
func (g *guard) kill(msg string) {
	if g.killed.Swap(true) {
		return
	}
	if msg != "" && g.plain != nil {
		_ = g.plain.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := g.plain.Write([]byte(msg + "\r\n")); err != nil {
			g.log.Debug("write before close", "err", err)
		}
	}
	if err := g.raw.Close(); err != nil {
		g.log.Debug("close", "err", err)
	}
}

// closeNow closes the connection from another goroutine (session timeout,
// server close) without writing.
func (g *guard) closeNow() {
	g.killed.Store(true)
	_ = g.raw.Close()
}

// singleListener hands one connection to a go-smtp Server.Serve and then
// blocks until that connection is closed.
type singleListener struct {
	mu     sync.Mutex
	conn   net.Conn
	addr   net.Addr
	closed <-chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newSingleListener(c net.Conn, closed <-chan struct{}) *singleListener {
	return &singleListener{conn: c, addr: c.LocalAddr(), closed: closed, done: make(chan struct{})}
}

func (l *singleListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	select {
	case <-l.closed:
	case <-l.done:
	}
	return nil, net.ErrClosed
}

func (l *singleListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *singleListener) Addr() net.Addr { return l.addr }
