package spam

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Spamd is a client of SpamAssassin's spamd (the SPAMC/1.5 protocol over
// TCP). Each Score opens one connection and sends the SYMBOLS command; the
// reply's "Spam: True ; 15.2 / 5.0" line gives the decision, the score and
// the required score, and its body the names of the rules that fired.
type Spamd struct {
	Addr    string        // host:port of spamd, e.g. "127.0.0.1:783"
	User    string        // optional "User:" header (per-user preferences)
	Timeout time.Duration // per call when ctx has no earlier deadline (default 30 s)
	MaxSize int           // larger messages are not sent: ErrTooLarge (default 512 KiB, spamc's limit)
}

const spamdEngine = "spamassassin"

// Score implements Classifier. Connection failures, timeouts, a reply that is
// not SPAMD/1.x, an error status or a missing Spam header are errors.
func (s *Spamd) Score(ctx context.Context, msg []byte, _ Hints) (Result, error) {
	start := time.Now()
	maxSize := s.MaxSize
	if maxSize <= 0 {
		maxSize = 512 << 10
	}
	if len(msg) > maxSize {
		return Result{}, fmt.Errorf("spamd: %d bytes, limit %d: %w", len(msg), maxSize, ErrTooLarge)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return Result{}, fmt.Errorf("spamd: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation without a deadline change: unblock reads and writes.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var hdr strings.Builder
	hdr.WriteString("SYMBOLS SPAMC/1.5\r\n")
	fmt.Fprintf(&hdr, "Content-length: %d\r\n", len(msg))
	if s.User != "" && !strings.ContainsAny(s.User, "\r\n") {
		fmt.Fprintf(&hdr, "User: %s\r\n", s.User)
	}
	hdr.WriteString("\r\n")
	w := bufio.NewWriterSize(conn, 32<<10)
	w.WriteString(hdr.String())
	w.Write(msg)
	if err := w.Flush(); err != nil {
		return Result{}, s.wrap(ctx, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	res, err := parseSpamdReply(bufio.NewReader(io.LimitReader(conn, 1<<20)))
	if err != nil {
		return Result{}, s.wrap(ctx, err)
	}
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

func (s *Spamd) wrap(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded // the socket deadline fired first
	}
	if cerr != nil {
		return fmt.Errorf("spamd %s: %w (%v)", s.Addr, cerr, err)
	}
	return fmt.Errorf("spamd %s: %w", s.Addr, err)
}

// parseSpamdReply reads "SPAMD/1.1 0 EX_OK", header lines up to an empty
// line, and for SYMBOLS a body of comma-separated rule names.
func parseSpamdReply(r *bufio.Reader) (Result, error) {
	res := Result{Engine: spamdEngine}
	status, err := r.ReadString('\n')
	if err != nil {
		return res, fmt.Errorf("%w: reading status line: %v", ErrProtocol, err)
	}
	status = strings.TrimRight(status, "\r\n")
	f := strings.Fields(status)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SPAMD/1.") {
		return res, fmt.Errorf("%w: status line %q", ErrProtocol, clip(status))
	}
	if code, err := strconv.Atoi(f[1]); err != nil || code != 0 {
		return res, fmt.Errorf("%w: spamd error %q", ErrProtocol, clip(status))
	}
	haveSpam := false
	contentLength := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil && line == "" {
			if err == io.EOF && haveSpam {
				break // reply without body
			}
			return res, fmt.Errorf("%w: reading headers: %v", ErrProtocol, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return res, fmt.Errorf("%w: header line %q", ErrProtocol, clip(line))
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "spam":
			if err := parseSpamHeader(strings.TrimSpace(value), &res); err != nil {
				return res, err
			}
			haveSpam = true
		case "content-length":
			contentLength, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	if !haveSpam {
		return res, fmt.Errorf("%w: no Spam header", ErrProtocol)
	}
	var body []byte
	if contentLength >= 0 {
		body = make([]byte, min(contentLength, 1<<20))
		n, _ := io.ReadFull(r, body)
		body = body[:n]
	} else {
		body, _ = io.ReadAll(r)
	}
	for _, sym := range strings.Split(string(body), ",") {
		if sym = strings.TrimSpace(sym); sym != "" && len(res.Symbols) < 16 {
			res.Symbols = append(res.Symbols, sym)
		}
	}
	return res, nil
}

// parseSpamHeader reads "True ; 15.2 / 5.0" (also "Yes", "False", "No").
func parseSpamHeader(v string, res *Result) error {
	flag, scores, ok := strings.Cut(v, ";")
	if !ok {
		return fmt.Errorf("%w: Spam header %q", ErrProtocol, clip(v))
	}
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case "true", "yes":
		res.Spam = true
	case "false", "no":
		res.Spam = false
	default:
		return fmt.Errorf("%w: Spam header %q", ErrProtocol, clip(v))
	}
	sc, th, ok := strings.Cut(scores, "/")
	if !ok {
		return fmt.Errorf("%w: Spam header %q", ErrProtocol, clip(v))
	}
	score, err1 := strconv.ParseFloat(strings.TrimSpace(sc), 64)
	thr, err2 := strconv.ParseFloat(strings.TrimSpace(th), 64)
	if err1 != nil || err2 != nil || isBad(score) || isBad(thr) {
		return fmt.Errorf("%w: Spam header %q", ErrProtocol, clip(v))
	}
	res.Score, res.Threshold = score, thr
	return nil
}

func isBad(f float64) bool { return f != f || f > 1e9 || f < -1e9 }

// clip shortens engine output quoted in errors.
func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
