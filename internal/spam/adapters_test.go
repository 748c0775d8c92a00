package spam

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSpamd serves one canned reply per connection after reading the
// request the way spamd does (header, then Content-length bytes).
type fakeSpamd struct {
	ln    net.Listener
	reply func(cmd string, hdr map[string]string, body []byte) string
	delay time.Duration

	mu   sync.Mutex
	reqs []string
}

func startFakeSpamd(t *testing.T, reply func(cmd string, hdr map[string]string, body []byte) string) *fakeSpamd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSpamd{ln: ln, reply: reply}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				f.serve(c)
			}()
		}
	}()
	return f
}

func (f *fakeSpamd) serve(c net.Conn) {
	r := bufio.NewReader(c)
	first, err := r.ReadString('\n')
	if err != nil {
		return
	}
	hdr := map[string]string{}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		hdr[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	n, _ := strconv.Atoi(hdr["content-length"])
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, first)
	f.mu.Unlock()
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	io.WriteString(c, f.reply(strings.TrimRight(first, "\r\n"), hdr, body))
}

func TestSpamdProtocol(t *testing.T) {
	msg := []byte("Subject: hi\r\n\r\nhello\r\n")
	f := startFakeSpamd(t, func(cmd string, hdr map[string]string, body []byte) string {
		if cmd != "SYMBOLS SPAMC/1.5" || string(body) != string(msg) || hdr["user"] != "archivo" {
			return "SPAMD/1.1 76 EX_PROTOCOL\r\n\r\n"
		}
		syms := "GTUBE,MISSING_DATE,NO_RELAYS"
		return fmt.Sprintf("SPAMD/1.1 0 EX_OK\r\nContent-length: %d\r\nSpam: True ; 1002.5 / 5.0\r\n\r\n%s", len(syms), syms)
	})
	c := &Spamd{Addr: f.ln.Addr().String(), User: "archivo"}
	res, err := c.Score(context.Background(), msg, Hints{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != "spamassassin" || !res.Spam || res.Score != 1002.5 || res.Threshold != 5 ||
		strings.Join(res.Symbols, " ") != "GTUBE MISSING_DATE NO_RELAYS" {
		t.Fatalf("result %+v", res)
	}
}

func TestParseSpamdReply(t *testing.T) {
	good := []struct {
		in    string
		spam  bool
		score float64
		syms  int
	}{
		{"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 2.2 / 5.0\r\n\r\n", false, 2.2, 0},
		{"SPAMD/1.1 0 EX_OK\nSpam: Yes ; -1.5 / 5\n\nA,B\n", true, -1.5, 2},
		{"SPAMD/1.5 0 EX_OK\r\nspam: no ; 0 / 5.0\r\n", false, 0, 0},
	}
	for _, g := range good {
		res, err := parseSpamdReply(bufio.NewReader(strings.NewReader(g.in)))
		if err != nil || res.Spam != g.spam || res.Score != g.score || len(res.Symbols) != g.syms {
			t.Errorf("%q: %+v, %v", g.in, res, err)
		}
	}
	bad := []string{
		"",
		"HTTP/1.1 200 OK\r\n\r\n",
		"SPAMD/1.1 76 EX_PROTOCOL\r\n\r\n",
		"SPAMD/1.1 0 EX_OK\r\n\r\n", // no Spam header
		"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n",       // bad flag
		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; x / 5\r\n\r\n",        // bad score
		"SPAMD/1.1 0 EX_OK\r\nSpam: True 15 / 5\r\n\r\n",         // no ';'
		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 15\r\n\r\n",           // no '/'
		"SPAMD/1.1 0 EX_OK\r\ngarbage line\r\n\r\n",              // not a header
		"\x00\x01\x02 binary garbage\n",                          // garbage
		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; NaN / 5.0\r\n\r\n",    // NaN
		"SPAMD/1.1 0 EX_OK\r\nContent-length: 3\r\nSpam: True ;", // truncated
	}
	for _, b := range bad {
		if res, err := parseSpamdReply(bufio.NewReader(strings.NewReader(b))); err == nil {
			t.Errorf("%q: no error, %+v", b, res)
		} else if !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: error %v is not ErrProtocol", b, err)
		}
	}
}

func TestSpamdErrors(t *testing.T) {
	ctx := context.Background()
	msg := []byte("Subject: x\r\n\r\nbody\r\n")

	// Refused: a port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := (&Spamd{Addr: addr}).Score(ctx, msg, Hints{}); err == nil {
		t.Error("refused: no error")
	}

	// Garbage.
	g := startFakeSpamd(t, func(string, map[string]string, []byte) string { return "hello there\r\n" })
	if _, err := (&Spamd{Addr: g.ln.Addr().String()}).Score(ctx, msg, Hints{}); !errors.Is(err, ErrProtocol) {
		t.Errorf("garbage: %v", err)
	}

	// Timeout from ctx and from Timeout.
	slow := startFakeSpamd(t, func(string, map[string]string, []byte) string {
		return "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0 / 5\r\n\r\n"
	})
	slow.delay = 2 * time.Second
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := (&Spamd{Addr: slow.ln.Addr().String()}).Score(tctx, msg, Hints{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx deadline: %v", err)
	}
	if _, err := (&Spamd{Addr: slow.ln.Addr().String(), Timeout: 200 * time.Millisecond}).Score(ctx, msg, Hints{}); err == nil {
		t.Error("Timeout: no error")
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("timeouts took %v", d)
	}

	// Too large.
	if _, err := (&Spamd{Addr: addr, MaxSize: 10}).Score(ctx, msg, Hints{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

const rspamdReplyJSON = `{"is_skipped":false,"score":17.5,"required_score":15.0,"action":"reject",
"symbols":{"GTUBE":{"name":"GTUBE","score":15.0,"metric_score":15.0},
"MIME_GOOD":{"name":"MIME_GOOD","score":-0.1},"ARC_NA":{"name":"ARC_NA","score":0.0},
"R_SPF_FAIL":{"name":"R_SPF_FAIL","score":2.6}},"messages":{},"message-id":"x@y"}`

func TestRspamdProtocol(t *testing.T) {
	msg := []byte("Subject: hi\r\n\r\nhello\r\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/checkv2":
			http.Error(w, "wrong endpoint", http.StatusNotFound)
		case string(body) != string(msg):
			http.Error(w, "wrong body", http.StatusBadRequest)
		case r.Header.Get("From") != "a@example.org" || strings.Join(r.Header.Values("Rcpt"), ",") != "b@example.net,c@example.net" ||
			r.Header.Get("IP") != "192.0.2.1" || r.Header.Get("Helo") != "mx.example.org" || r.Header.Get("Settings-ID") != "inbound":
			http.Error(w, "wrong headers", http.StatusBadRequest)
		default:
			io.WriteString(w, rspamdReplyJSON)
		}
	}))
	defer srv.Close()
	c := &Rspamd{URL: srv.URL + "/", SettingsID: "inbound"}
	h := Hints{Envelope: Envelope{MailFrom: "a@example.org", Rcpt: []string{"b@example.net", "c@example.net"},
		IP: "192.0.2.1", Helo: "mx.example.org"}}
	res, err := c.Score(context.Background(), msg, h)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != "rspamd" || !res.Spam || res.Score != 17.5 || res.Threshold != 15 ||
		strings.Join(res.Symbols, " ") != "GTUBE R_SPF_FAIL MIME_GOOD" {
		t.Fatalf("result %+v", res)
	}
}

func TestParseRspamdReply(t *testing.T) {
	for action, spam := range map[string]bool{"no action": false, "greylist": false, "soft reject": false,
		"add header": true, "rewrite subject": true, "reject": true} {
		res, err := parseRspamdReply([]byte(`{"score":1,"required_score":15,"action":"` + action + `"}`))
		if err != nil || res.Spam != spam {
			t.Errorf("%s: %+v %v", action, res, err)
		}
	}
	for _, b := range []string{"", "garbage", "<html>", `{"score":1}`, `{"score":"x","required_score":1,"action":"reject"}`, `[]`} {
		if _, err := parseRspamdReply([]byte(b)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: %v", b, err)
		}
	}
}

func TestRspamdErrors(t *testing.T) {
	ctx := context.Background()
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := (&Rspamd{URL: refused}).Score(ctx, msg, Hints{}); err == nil {
		t.Error("refused: no error")
	}
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "this is not json")
	}))
	defer garbage.Close()
	if _, err := (&Rspamd{URL: garbage.URL}).Score(ctx, msg, Hints{}); !errors.Is(err, ErrProtocol) {
		t.Errorf("garbage: %v", err)
	}
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"bad"}`, http.StatusInternalServerError)
	}))
	defer status.Close()
	if _, err := (&Rspamd{URL: status.URL}).Score(ctx, msg, Hints{}); !errors.Is(err, ErrProtocol) {
		t.Errorf("status 500: %v", err)
	}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, rspamdReplyJSON)
	}))
	defer slow.Close()
	defer close(release)
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := (&Rspamd{URL: slow.URL}).Score(tctx, msg, Hints{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx deadline: %v", err)
	}
	if _, err := (&Rspamd{URL: slow.URL, Timeout: 200 * time.Millisecond}).Score(ctx, msg, Hints{}); err == nil {
		t.Error("Timeout: no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeouts took %v", d)
	}
}
