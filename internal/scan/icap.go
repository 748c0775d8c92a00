package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ICAP is an antivirus reached through ICAP (RFC 3507), such as c-icap with
// its virus_scan service. The data is sent as the body of an HTTP response
// (RESPMOD, the default) or of an HTTP POST request (REQMOD), with a preview
// when the service asks for one; 204 means clean, and a 200 answer with an
// infection header (X-Infection-Found, X-Virus-ID, X-Violations-Found,
// X-Virus-Name) or a 403 page in place of the content means infected. Any
// other answer is an error, never clean: in particular a service that returns
// the content unchanged instead of 204. Empty data is sent as a null body.
//
// A service that skips some content (c-icap's virus_scan answers 204 for file
// types outside its ScanFileTypes, and for objects over MaxObjectSize unless
// sizelimit=off) makes such content look clean: configure it to scan all.
//
// OPTIONS is asked first and kept for its Options-TTL: it gives the methods,
// the preview size and the version (Service and ISTag). Each request uses its
// own connection.
type ICAP struct {
	EngineName string
	// URL of the service: icap://host[:port]/service[?args] (port 1344 by
	// default), e.g. icap://127.0.0.1:1344/avscan.
	URL string
	// Mode is "respmod" (default) or "reqmod".
	Mode string
	// Preview is the most bytes sent as a preview: 0 (default) sends what the
	// service's OPTIONS asks for, a negative value sends no preview. A preview
	// is never larger than the service's, nor sent when it asks for none.
	Preview int
	// OptionsTTL is how long OPTIONS is kept when the service gives no
	// Options-TTL (default 1 h).
	OptionsTTL time.Duration

	mu   sync.Mutex
	opts *icapOptions
}

// icapOptions is what OPTIONS said.
type icapOptions struct {
	methods []string
	preview int // -1: no preview
	istag   string
	service string
	expires time.Time
}

// icapTarget is ICAP.URL parsed.
type icapTarget struct {
	uri  string // the request URI, with the port
	host string // host:port, for dialing and the Host header
}

// Name is the engine's name in results.
func (c *ICAP) Name() string {
	if c.EngineName != "" {
		return c.EngineName
	}
	return "icap"
}

func (c *ICAP) target() (icapTarget, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return icapTarget{}, fmt.Errorf("icap: %w", err)
	}
	if u.Scheme != "icap" || u.Host == "" {
		return icapTarget{}, fmt.Errorf("icap: %q is not icap://host[:port]/service", c.URL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1344")
	}
	v := url.URL{Scheme: "icap", Host: host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if v.Path == "" {
		v.Path = "/"
	}
	return icapTarget{uri: v.String(), host: host}, nil
}

func (c *ICAP) method() (string, error) {
	switch strings.ToLower(c.Mode) {
	case "", "respmod":
		return "RESPMOD", nil
	case "reqmod":
		return "REQMOD", nil
	}
	return "", fmt.Errorf("icap: mode %q is neither respmod nor reqmod", c.Mode)
}

func (c *ICAP) dial(ctx context.Context, t icapTarget) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.host)
	if err != nil {
		return nil, fmt.Errorf("icap: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	return conn, nil
}

// roundTrip runs do (write a request, read its answer) on a new connection
// bound to ctx's deadline and cancellation.
func (c *ICAP) roundTrip(ctx context.Context, t icapTarget, do func(net.Conn) (*icapResponse, error)) (*icapResponse, error) {
	conn, err := c.dial(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ErrTimeout, err)
		}
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	resp, err := do(conn)
	if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		return nil, fmt.Errorf("%w (%v)", ErrTimeout, err)
	}
	return resp, err
}

// options returns the service's OPTIONS, from the cache while they are valid.
func (c *ICAP) options(ctx context.Context, t icapTarget) (*icapOptions, error) {
	c.mu.Lock()
	o := c.opts
	c.mu.Unlock()
	if o != nil && time.Now().Before(o.expires) {
		return o, nil
	}
	resp, err := c.roundTrip(ctx, t, func(conn net.Conn) (*icapResponse, error) {
		req := "OPTIONS " + t.uri + " ICAP/1.0\r\nHost: " + t.host + "\r\nEncapsulated: null-body=0\r\n\r\n"
		if _, err := io.WriteString(conn, req); err != nil {
			return nil, fmt.Errorf("icap: send OPTIONS: %w", err)
		}
		return readICAPResponse(bufio.NewReaderSize(conn, 16<<10))
	})
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		return nil, fmt.Errorf("icap: OPTIONS: %d %s", resp.Status, cleanText(resp.Reason))
	}
	o = &icapOptions{preview: -1, istag: unquote(resp.Header["Istag"]), service: resp.Header["Service"]}
	for m := range strings.SplitSeq(resp.Header["Methods"], ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			o.methods = append(o.methods, m)
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header["Preview"])); err == nil && n >= 0 {
		o.preview = n
	}
	ttl := c.OptionsTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header["Options-Ttl"])); err == nil && n >= 0 {
		ttl = time.Duration(min(n, 7*24*3600)) * time.Second
	}
	o.expires = time.Now().Add(ttl)
	c.mu.Lock()
	c.opts = o
	c.mu.Unlock()
	return o, nil
}

func icapVersion(service, istag string) string {
	service, istag = cleanText(service), cleanText(istag)
	switch {
	case istag == "":
		return service
	case service == "":
		return "ISTag " + istag
	}
	return service + " (ISTag " + istag + ")"
}

// Version asks the service's OPTIONS (or takes them from the cache) and
// returns its Service and ISTag.
func (c *ICAP) Version(ctx context.Context) (string, error) {
	t, err := c.target()
	if err != nil {
		return "", err
	}
	o, err := c.options(ctx, t)
	if err != nil {
		return "", err
	}
	return icapVersion(o.service, o.istag), nil
}

// Scan sends data to the service and reads its verdict.
func (c *ICAP) Scan(ctx context.Context, data []byte) (Result, error) {
	t, err := c.target()
	if err != nil {
		return Result{}, err
	}
	method, err := c.method()
	if err != nil {
		return Result{}, err
	}
	o, err := c.options(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if len(o.methods) > 0 && !slices.Contains(o.methods, method) {
		return Result{}, fmt.Errorf("icap: the service does not offer %s (methods: %s)", method, cleanText(strings.Join(o.methods, ", ")))
	}
	preview := o.preview
	switch {
	case c.Preview < 0:
		preview = -1
	case c.Preview > 0 && preview >= 0:
		preview = min(preview, c.Preview)
	}
	resp, err := c.roundTrip(ctx, t, func(conn net.Conn) (*icapResponse, error) {
		return icapExchange(conn, t, method, preview, data)
	})
	if err != nil {
		return Result{}, err
	}
	istag := o.istag
	if tag := unquote(resp.Header["Istag"]); tag != "" && tag != o.istag {
		// RFC 3507 section 4.7: a new ISTag means the service changed; ask
		// OPTIONS again next time.
		istag = tag
		c.mu.Lock()
		if c.opts == o {
			c.opts = nil
		}
		c.mu.Unlock()
	}
	return icapVerdict(resp, icapVersion(o.service, istag))
}

// icapExchange writes one RESPMOD or REQMOD request with data as the body of
// the encapsulated HTTP message and returns the final answer.
func icapExchange(conn net.Conn, t icapTarget, method string, preview int, data []byte) (*icapResponse, error) {
	// Empty data is sent as a null body (c-icap answers an empty chunked body
	// with the content unchanged, not 204).
	reqBody, resBody := "req-body=", "res-body="
	if len(data) == 0 {
		reqBody, resBody, preview = "null-body=", "null-body=", -1
	}
	var httpHead, enc string
	if method == "REQMOD" {
		httpHead = "POST /message HTTP/1.1\r\nHost: resguardo\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
			strconv.Itoa(len(data)) + "\r\n\r\n"
		enc = "req-hdr=0, " + reqBody + strconv.Itoa(len(httpHead))
	} else {
		reqHdr := "GET /message HTTP/1.1\r\nHost: resguardo\r\n\r\n"
		resHdr := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(data)) + "\r\n\r\n"
		httpHead = reqHdr + resHdr
		enc = "req-hdr=0, res-hdr=" + strconv.Itoa(len(reqHdr)) + ", " + resBody + strconv.Itoa(len(httpHead))
	}
	bw := bufio.NewWriterSize(conn, 32<<10)
	br := bufio.NewReaderSize(conn, 16<<10)
	bw.WriteString(method + " " + t.uri + " ICAP/1.0\r\nHost: " + t.host + "\r\nAllow: 204\r\n")
	if preview >= 0 {
		bw.WriteString("Preview: " + strconv.Itoa(preview) + "\r\n")
	}
	bw.WriteString("Encapsulated: " + enc + "\r\n\r\n")
	bw.WriteString(httpHead)
	if len(data) == 0 {
		if err := bw.Flush(); err != nil {
			return nil, fmt.Errorf("icap: send: %w", err)
		}
		return finalAnswer(br)
	}
	if preview >= 0 {
		n := min(preview, len(data))
		writeChunks(bw, data[:n])
		if n == len(data) {
			bw.WriteString("0; ieof\r\n\r\n")
		} else {
			bw.WriteString("0\r\n\r\n")
		}
		werr := bw.Flush()
		resp, err := readICAPResponse(br)
		switch {
		case err != nil && werr != nil:
			return nil, fmt.Errorf("icap: send: %w", werr)
		case err != nil:
			return nil, err
		case resp.Status == 100 && n == len(data):
			return nil, errors.New("icap: 100 Continue after the whole data was sent")
		case resp.Status != 100:
			return resp, nil // the verdict on the preview (204, 200), or an error status
		}
		data = data[n:]
	}
	// The rest of the body is written while the answer is read: a service may
	// answer before it has read everything.
	werr := make(chan error, 1)
	go func() {
		writeChunks(bw, data)
		bw.WriteString("0\r\n\r\n")
		werr <- bw.Flush()
	}()
	resp, err := finalAnswer(br)
	if err != nil {
		select {
		case e := <-werr:
			if e != nil {
				return nil, fmt.Errorf("icap: send: %w (answer: %v)", e, err)
			}
		default:
		}
		return nil, err
	}
	return resp, nil
}

// finalAnswer reads the answer to a whole request.
func finalAnswer(br *bufio.Reader) (*icapResponse, error) {
	resp, err := readICAPResponse(br)
	if err == nil && resp.Status == 100 {
		return nil, errors.New("icap: 100 Continue where the answer was expected")
	}
	return resp, err
}

// writeChunks writes data in HTTP/1.1 chunked encoding, without the last chunk.
func writeChunks(w *bufio.Writer, data []byte) {
	for len(data) > 0 {
		n := min(len(data), 64<<10)
		w.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n")
		w.Write(data[:n])
		w.WriteString("\r\n")
		data = data[n:]
	}
}

// Bounds on what is read of an ICAP answer.
const (
	maxICAPHead      = 64 << 10 // the ICAP header section
	maxICAPLines     = 256      // header lines
	maxICAPEncHeader = 64 << 10 // encapsulated HTTP header sections
)

// icapResponse is an ICAP answer: its status, its header fields and, when it
// encapsulates an HTTP response, that response's status and header fields. The
// encapsulated body is not read.
type icapResponse struct {
	Status int
	Reason string
	// Header maps canonical field names to values; a repeated field's values are
	// joined with ", ", and folded lines are kept as lines (joined with "\n").
	Header     map[string]string
	HTTPStatus int // of the encapsulated HTTP response; 0 when there is none
	HTTPHeader map[string]string
}

var errICAPHeadTooLong = errors.New("icap: answer header too long")

// readHead reads header lines up to the empty line that ends them. limit bounds
// the bytes read.
func readHead(br *bufio.Reader, limit int) ([]string, error) {
	var lines []string
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if errors.Is(err, bufio.ErrBufferFull) || total > limit || len(lines) > maxICAPLines {
			return nil, errICAPHeadTooLong
		}
		if err != nil {
			if err == io.EOF {
				if len(lines) == 0 && len(line) == 0 {
					return nil, errors.New("icap: connection closed without an answer")
				}
				return nil, errors.New("icap: answer cut short")
			}
			return nil, fmt.Errorf("icap: read answer: %w", err)
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return lines, nil
		}
		lines = append(lines, s)
	}
}

// parseFields reads header field lines; continuation lines (starting with a
// blank) are appended to the previous field with "\n".
func parseFields(lines []string) (map[string]string, error) {
	h := make(map[string]string, len(lines))
	last := ""
	for _, l := range lines {
		if l[0] == ' ' || l[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("icap: continuation line without a field: %q", clip(l))
			}
			h[last] += "\n" + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("icap: not a header field: %q", clip(l))
		}
		last = textproto.CanonicalMIMEHeaderKey(name)
		value = strings.TrimSpace(value)
		if old, ok := h[last]; ok {
			value = old + ", " + value
		}
		h[last] = value
	}
	return h, nil
}

// parseStatus reads "ICAP/1.0 200 OK" (proto "ICAP/1.") or "HTTP/1.1 403
// Forbidden" (proto "HTTP/1.").
func parseStatus(line, proto string) (int, string, error) {
	version, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(version, proto) || len(version) != len(proto)+1 || err != nil || len(code) != 3 || n < 100 || n > 599 {
		return 0, "", fmt.Errorf("icap: bad %s status line: %q", strings.TrimSuffix(proto, "/1."), clip(line))
	}
	return n, strings.TrimSpace(reason), nil
}

// readICAPResponse reads an ICAP answer's status and header and, for a 200
// answer, the encapsulated HTTP header sections (not the body).
func readICAPResponse(br *bufio.Reader) (*icapResponse, error) {
	lines, err := readHead(br, maxICAPHead)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("icap: empty answer")
	}
	r := &icapResponse{}
	if r.Status, r.Reason, err = parseStatus(lines[0], "ICAP/1."); err != nil {
		return nil, err
	}
	if r.Header, err = parseFields(lines[1:]); err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return r, nil
	}
	enc, ok := r.Header["Encapsulated"]
	if !ok {
		return r, nil
	}
	sections, bodyAt, err := parseEncapsulated(enc)
	if err != nil {
		return nil, err
	}
	if bodyAt > maxICAPEncHeader {
		return nil, errors.New("icap: encapsulated header too long")
	}
	buf := make([]byte, bodyAt)
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, fmt.Errorf("icap: encapsulated header cut short: %w", err)
	}
	for _, s := range sections {
		if s.name != "res-hdr" {
			continue
		}
		hb := bufio.NewReaderSize(strings.NewReader(string(buf[s.start:s.end])+"\r\n"), 16<<10)
		lines, err := readHead(hb, maxICAPEncHeader+2)
		if err != nil || len(lines) == 0 {
			return nil, errors.New("icap: encapsulated HTTP header unreadable")
		}
		if r.HTTPStatus, _, err = parseStatus(lines[0], "HTTP/1."); err != nil {
			return nil, err
		}
		if r.HTTPHeader, err = parseFields(lines[1:]); err != nil {
			return nil, err
		}
	}
	return r, nil
}

type encSection struct {
	name       string
	start, end int
}

// parseEncapsulated reads "req-hdr=0, res-hdr=45, res-body=120": the header
// sections with their byte ranges, and the offset of the body (or null-body),
// which must come last.
func parseEncapsulated(v string) ([]encSection, int, error) {
	bad := func() ([]encSection, int, error) {
		return nil, 0, fmt.Errorf("icap: bad Encapsulated field: %q", clip(v))
	}
	var sections []encSection
	prev := 0
	items := strings.Split(v, ",")
	for i, item := range items {
		name, off, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(strings.TrimSpace(off))
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || err != nil || n < prev || n > 1<<30 || (i == 0 && n != 0) {
			return bad()
		}
		if len(sections) > 0 {
			sections[len(sections)-1].end = n
		}
		switch name {
		case "req-hdr", "res-hdr":
			if i == len(items)-1 {
				return bad() // a header section must be followed by a body entry
			}
			sections = append(sections, encSection{name: name, start: n})
		case "req-body", "res-body", "opt-body", "null-body":
			if i != len(items)-1 {
				return bad()
			}
			return sections, n, nil
		default:
			return bad()
		}
		prev = n
	}
	return bad()
}

// infectionHeaders are the fields ICAP antivirus services use to name what
// they found.
var infectionHeaders = []string{"X-Infection-Found", "X-Virus-Id", "X-Violations-Found", "X-Virus-Name"}

// icapVerdict interprets a final ICAP answer.
func icapVerdict(r *icapResponse, version string) (Result, error) {
	switch r.Status {
	case 204:
		return Result{Verdict: Clean, Version: version}, nil
	case 200:
	default:
		return Result{}, fmt.Errorf("icap: %d %s", r.Status, cleanText(r.Reason))
	}
	for _, h := range []map[string]string{r.Header, r.HTTPHeader} {
		for _, name := range infectionHeaders {
			v, ok := h[name]
			if !ok {
				continue
			}
			if threat, found := icapThreat(name, v); found {
				return Result{Verdict: Infected, Threat: threat, Version: version}, nil
			}
		}
	}
	if r.HTTPStatus == 403 {
		return Result{Verdict: Infected, Threat: "blocked by the ICAP service (HTTP 403)", Version: version}, nil
	}
	if r.HTTPStatus == 0 {
		return Result{}, errors.New("icap: unrecognised answer: 200 without an encapsulated HTTP response or an infection header")
	}
	return Result{}, fmt.Errorf("icap: unrecognised answer: 200 with HTTP %d and no infection header", r.HTTPStatus)
}

// icapThreat reads the threat name in one of infectionHeaders; found is false
// for a field that says nothing was found.
func icapThreat(name, v string) (threat string, found bool) {
	switch name {
	case "X-Infection-Found": // Type=0; Resolution=2; Threat=Eicar-Test-Signature;
		for item := range strings.SplitSeq(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "Threat") {
				if t := cleanText(val); t != "" {
					return t, true
				}
			}
		}
	case "X-Violations-Found": // count, then per violation: file name, threat, id, disposition, one per line
		lines := strings.Split(v, "\n")
		if n, err := strconv.Atoi(strings.TrimSpace(lines[0])); err == nil && n <= 0 {
			return "", false
		}
		if len(lines) >= 3 {
			if t := cleanText(lines[2]); t != "" {
				return t, true
			}
		}
	}
	if t := cleanText(v); t != "" {
		return t, true
	}
	return "unnamed threat (" + name + ")", true
}

// cleanText makes text from the network fit for records: no control
// characters, blanks collapsed, at most 200 bytes.
func cleanText(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), `"`) }

func clip(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}
