package scantest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/scan"
)

// ICAPBehaviour is what an ICAPResponder does with a RESPMOD or REQMOD request.
type ICAPBehaviour string

// Behaviours of ICAPResponder.
const (
	// ICAPScan reads the whole body and answers 200 with X-Infection-Found
	// (Threat=Scantest.EICAR) when it holds the EICAR string, else 204; with a
	// preview it asks for the rest with 100 Continue.
	ICAPScan ICAPBehaviour = "scan"
	// ICAPHang reads the request and never answers.
	ICAPHang ICAPBehaviour = "hang"
	// ICAPClose closes the connection without answering.
	ICAPClose ICAPBehaviour = "close"
	// ICAPGarbage answers with bytes that are not ICAP.
	ICAPGarbage ICAPBehaviour = "garbage"
	// ICAP500 answers 500 Server Error.
	ICAP500 ICAPBehaviour = "500"
	// ICAPUnmodified answers 200 with the HTTP response unchanged (what a
	// service that does not do 204 says about clean data, and what a
	// misconfigured one says about anything).
	ICAPUnmodified ICAPBehaviour = "unmodified"
	// ICAPForbidden answers 200 with an HTTP 403 page and no infection header.
	ICAPForbidden ICAPBehaviour = "403"
	// ICAPViolations answers 200 with X-Violations-Found only.
	ICAPViolations ICAPBehaviour = "violations"
	// ICAPCloseAfterPreview reads the preview and closes the connection.
	ICAPCloseAfterPreview ICAPBehaviour = "close-after-preview"
)

// ICAPResponder is a minimal ICAP service for tests, on a loopback port: it
// answers OPTIONS (methods RESPMOD and REQMOD, Preview, ISTag, Options-TTL)
// and does what its behaviour says with each scan.
type ICAPResponder struct {
	Addr string
	// Options and Scans count the requests received.
	Options, Scans atomic.Int64

	preview    int // announced in OPTIONS; -1: none
	optionsTTL int // announced in OPTIONS; -1: none
	mu         sync.Mutex
	behaviour  ICAPBehaviour
	istag      string
	lastBody   []byte
	lastMethod string
}

// ICAPResponderOptions are the OPTIONS an ICAPResponder announces.
type ICAPResponderOptions struct {
	Preview    int // Preview size; -1: no Preview field
	OptionsTTL int // seconds; -1: no Options-TTL field
}

// StartICAPResponder starts an ICAPResponder with preview 1024 and
// Options-TTL 3600; it stops when the test ends.
func StartICAPResponder(t testing.TB, b ICAPBehaviour) *ICAPResponder {
	return StartICAPResponderWith(t, b, ICAPResponderOptions{Preview: 1024, OptionsTTL: 3600})
}

// StartICAPResponderWith starts an ICAPResponder with the given OPTIONS.
func StartICAPResponderWith(t testing.TB, b ICAPBehaviour, o ICAPResponderOptions) *ICAPResponder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ICAPResponder{Addr: l.Addr().String(), preview: o.Preview, optionsTTL: o.OptionsTTL, behaviour: b, istag: "scantest-1"}
	var conns sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close(); conns.Wait() })
	conns.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				stop := make(chan struct{})
				defer close(stop)
				go func() { // a hanging connection ends with the test
					select {
					case <-done:
						c.Close()
					case <-stop:
					}
				}()
				r.serve(c, done)
			})
		}
	})
	return r
}

// Engine returns an ICAP engine for the responder's service.
func (r *ICAPResponder) Engine(name string) *scan.ICAP {
	return &scan.ICAP{EngineName: name, URL: "icap://" + r.Addr + "/scantest"}
}

// SetBehaviour changes what the responder does with the next scans.
func (r *ICAPResponder) SetBehaviour(b ICAPBehaviour) {
	r.mu.Lock()
	r.behaviour = b
	r.mu.Unlock()
}

// SetISTag changes the ISTag of the following answers.
func (r *ICAPResponder) SetISTag(tag string) {
	r.mu.Lock()
	r.istag = tag
	r.mu.Unlock()
}

// Last returns the method and the whole body of the last scan that was read
// in full.
func (r *ICAPResponder) Last() (method string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastMethod, r.lastBody
}

func (r *ICAPResponder) state() (ICAPBehaviour, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.behaviour, r.istag
}

// serve answers the requests of one connection (keep-alive).
func (r *ICAPResponder) serve(c net.Conn, done chan struct{}) {
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		head, err := readHeader(br)
		if err != nil {
			return
		}
		method, _, _ := strings.Cut(head[0], " ")
		fields := map[string]string{}
		for _, l := range head[1:] {
			k, v, _ := strings.Cut(l, ":")
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		b, istag := r.state()
		if method == "OPTIONS" {
			r.Options.Add(1)
			var sb strings.Builder
			sb.WriteString("ICAP/1.0 200 OK\r\nMethods: RESPMOD, REQMOD\r\nService: scantest ICAP responder\r\nISTag: \"" + istag + "\"\r\nAllow: 204\r\n")
			if r.preview >= 0 {
				fmt.Fprintf(&sb, "Preview: %d\r\n", r.preview)
			}
			if r.optionsTTL >= 0 {
				fmt.Fprintf(&sb, "Options-TTL: %d\r\n", r.optionsTTL)
			}
			sb.WriteString("Encapsulated: null-body=0\r\n\r\n")
			if _, err := io.WriteString(c, sb.String()); err != nil {
				return
			}
			continue
		}
		r.Scans.Add(1)
		// The encapsulated HTTP header sections, then the chunked body.
		enc := fields["encapsulated"]
		bodyAt := -1
		for item := range strings.SplitSeq(enc, ",") {
			name, off, _ := strings.Cut(strings.TrimSpace(item), "=")
			if strings.HasSuffix(name, "-body") {
				bodyAt, _ = strconv.Atoi(off)
			}
		}
		if bodyAt < 0 || bodyAt > 1<<16 {
			io.WriteString(c, "ICAP/1.0 400 Bad Request\r\n\r\n")
			return
		}
		httpHead := make([]byte, bodyAt)
		if _, err := io.ReadFull(br, httpHead); err != nil {
			return
		}
		hasBody := !strings.Contains(enc, "null-body")
		var body []byte
		ieof := true
		if hasBody {
			if body, ieof, err = readChunks(br); err != nil {
				return
			}
		}
		_, previewed := fields["preview"]
		switch b {
		case ICAPHang:
			<-done
			return
		case ICAPClose:
			return
		case ICAPCloseAfterPreview:
			if previewed {
				return
			}
		case ICAPGarbage:
			io.WriteString(c, "¿qué? esto no es ICAP\r\n\r\n")
			return
		case ICAP500:
			io.WriteString(c, "ICAP/1.0 500 Server Error\r\nISTag: \""+istag+"\"\r\nEncapsulated: null-body=0\r\n\r\n")
			continue
		}
		if previewed && !ieof {
			if _, err := io.WriteString(c, "ICAP/1.0 100 Continue\r\n\r\n"); err != nil {
				return
			}
			rest, _, err := readChunks(br)
			if err != nil {
				return
			}
			body = append(body, rest...)
		}
		r.mu.Lock()
		r.lastMethod, r.lastBody = method, body
		r.mu.Unlock()
		var ans string
		switch {
		case b == ICAPUnmodified:
			res := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
			ans = "ICAP/1.0 200 OK\r\nISTag: \"" + istag + "\"\r\nEncapsulated: res-hdr=0, res-body=" + strconv.Itoa(len(res)) + "\r\n\r\n" +
				res + chunked(body)
		case b == ICAPForbidden:
			page := "<html><body>Blocked</body></html>"
			res := "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n"
			ans = "ICAP/1.0 200 OK\r\nISTag: \"" + istag + "\"\r\nEncapsulated: res-hdr=0, res-body=" + strconv.Itoa(len(res)) + "\r\n\r\n" +
				res + chunked([]byte(page))
		case b == ICAPViolations:
			ans = "ICAP/1.0 200 OK\r\nISTag: \"" + istag + "\"\r\nX-Violations-Found: 1\r\n\tmessage\r\n\tScantest.Violation\r\n\t0\r\n\t2\r\nEncapsulated: null-body=0\r\n\r\n"
		case bytes.Contains(body, []byte("EICAR-STANDARD-ANTIVIRUS-TEST-FILE")):
			res := "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n"
			ans = "ICAP/1.0 200 OK\r\nISTag: \"" + istag + "\"\r\nX-Infection-Found: Type=0; Resolution=2; Threat=Scantest.EICAR;\r\n" +
				"Encapsulated: res-hdr=0, res-body=" + strconv.Itoa(len(res)) + "\r\n\r\n" + res + chunked([]byte("virus"))
		default:
			ans = "ICAP/1.0 204 No Content\r\nISTag: \"" + istag + "\"\r\n\r\n"
		}
		if _, err := io.WriteString(c, ans); err != nil {
			return
		}
	}
}

func chunked(b []byte) string {
	if len(b) == 0 {
		return "0\r\n\r\n"
	}
	return strconv.FormatInt(int64(len(b)), 16) + "\r\n" + string(b) + "\r\n0\r\n\r\n"
}

// readHeader reads lines up to the empty line.
func readHeader(br *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(lines) == 0 {
				return nil, errors.New("empty request")
			}
			return lines, nil
		}
		if len(lines) > 100 {
			return nil, errors.New("header too long")
		}
		lines = append(lines, l)
	}
}

// readChunks reads a chunked body up to its last chunk; ieof is the last
// chunk's "ieof" extension (the whole body fit in the preview).
func readChunks(br *bufio.Reader) (body []byte, ieof bool, err error) {
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, false, err
		}
		size, ext, _ := strings.Cut(strings.TrimRight(l, "\r\n"), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 32)
		if err != nil || n < 0 || n > 64<<20 {
			return nil, false, fmt.Errorf("bad chunk size %q", l)
		}
		if n == 0 {
			if _, err := br.ReadString('\n'); err != nil { // the empty line after the last chunk
				return nil, false, err
			}
			return body, strings.TrimSpace(ext) == "ieof", nil
		}
		start := len(body)
		body = append(body, make([]byte, n+2)...)
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return nil, false, err
		}
		body = body[:start+int(n)]
	}
}
