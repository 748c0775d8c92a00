package scan

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// cicapEICAR is c-icap 0.5.10's answer (virus_scan over clamd) to EICAR.
const cicapEICAR = "ICAP/1.0 200 OK\r\nServer: C-ICAP/0.5.10\r\nConnection: keep-alive\r\nISTag: \"CI0001-L5CkDhq+qWNs+PZ5DxxXsAAA\"\r\n" +
	"X-Infection-Found: Type=0; Resolution=2; Threat=Resguardo.EICAR.HDB.UNOFFICIAL;\r\n" +
	"X-Violations-Found: 1\r\n\t-\r\n\tResguardo.EICAR.HDB.UNOFFICIAL\r\n\t0\r\n\t0\r\n" +
	"Encapsulated: res-hdr=0, res-body=161\r\n\r\n" +
	"HTTP/1.0 403 Forbidden\r\nServer: C-ICAP\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Language: en\r\n" +
	"Via: ICAP/1.0 vm (C-ICAP/0.5.10 Antivirus service )\r\n\r\n" +
	"12\r\n<html>VIRUS</html>\r\n0\r\n\r\n"

func parseString(s string) (Result, error) {
	r, err := readICAPResponse(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		return Result{}, err
	}
	return icapVerdict(r, "v")
}

func TestICAPVerdicts(t *testing.T) {
	const page403 = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n"
	const get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	enc403 := fmt.Sprintf("Encapsulated: res-hdr=0, res-body=%d\r\n\r\n%s", len(page403), page403)
	withReq := fmt.Sprintf("Encapsulated: req-hdr=0, res-hdr=%d, res-body=%d\r\n\r\n%s%s", len(get), len(get+page403), get, page403)
	ok200 := "HTTP/1.1 200 OK\r\nX-Virus-ID: Nasty\r\n\r\n"
	virusInHTTP := fmt.Sprintf("Encapsulated: res-hdr=0, res-body=%d\r\n\r\n%s", len(ok200), ok200)
	for _, tc := range []struct {
		answer  string
		verdict Verdict
		threat  string
	}{
		{cicapEICAR, Infected, "Resguardo.EICAR.HDB.UNOFFICIAL"},
		{"ICAP/1.0 204 No Content\r\nISTag: x\r\n\r\n", Clean, ""},
		{"ICAP/1.0 204 Unmodified\n\n", Clean, ""}, // bare LF
		{"ICAP/1.0 200 OK\r\nX-Virus-ID: Win.Test.EICAR_HDB-1\r\nEncapsulated: null-body=0\r\n\r\n", Infected, "Win.Test.EICAR_HDB-1"},
		{"ICAP/1.0 200 OK\r\nX-Infection-Found: Type=0; Resolution=1;\r\nEncapsulated: null-body=0\r\n\r\n", Infected, "Type=0; Resolution=1;"},
		{"ICAP/1.0 200 OK\r\nX-Violations-Found: 1\r\n\tfactura.zip\r\n\tTrojan.Generic\r\n\t1001\r\n\t2\r\nEncapsulated: null-body=0\r\n\r\n", Infected, "Trojan.Generic"},
		{"ICAP/1.0 200 OK\r\nX-Virus-Name:\r\nEncapsulated: null-body=0\r\n\r\n", Infected, "unnamed threat (X-Virus-Name)"},
		{"ICAP/1.0 200 OK\r\n" + enc403, Infected, "blocked by the ICAP service (HTTP 403)"},
		{"ICAP/1.0 200 OK\r\n" + withReq, Infected, "blocked by the ICAP service (HTTP 403)"},
		{"ICAP/1.0 200 OK\r\n" + virusInHTTP, Infected, "Nasty"},
		{"ICAP/1.0 200 OK\r\nX-Violations-Found: 0\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0, res-body=19\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\nEncapsulated: null-body=0\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\n\r\n", Error, ""},
		{"ICAP/1.0 100 Continue\r\n\r\n", Error, ""},
		{"ICAP/1.0 500 Server Error\r\n\r\n", Error, ""},
		{"ICAP/1.0 404 Service not found\r\n\r\n", Error, ""},
		{"HTTP/1.1 204 No Content\r\n\r\n", Error, ""},
		{"ICAP/1.0 204\r\n", Error, ""}, // cut short
		{"ICAP/1.0 2040 x\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\n" + strings.Replace(enc403, "res-body=", "res-body=9", 1), Error, ""}, // encapsulated header cut short
		{"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=0\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\nEncapsulated: res-body=0, res-hdr=0\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\nEncapsulated: res-hdr=5, res-body=0\r\n\r\n", Error, ""},
		{"ICAP/1.0 200 OK\r\nnot a field\r\n\r\n", Error, ""},
		{"\tISTag: x\r\n\r\n", Error, ""},
		{"", Error, ""},
		{"ICAP/1.0 200 OK\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 100) + "\r\n", Error, ""},
	} {
		r, err := parseString(tc.answer)
		got := r.Verdict
		if err != nil {
			got = Error
		}
		if got != tc.verdict || r.Threat != tc.threat {
			t.Errorf("%q: %+v %v, want %s %q", clip(tc.answer), r, err, tc.verdict, tc.threat)
		}
		if err == nil && r.Version != "v" {
			t.Errorf("%q: version %q", clip(tc.answer), r.Version)
		}
	}
}

// FuzzParseICAPResponse: whatever a service answers, the parser does not panic
// or read without bound, an answer is clean only if its status is 204, and an
// infected verdict always names a threat.
func FuzzParseICAPResponse(f *testing.F) {
	for _, s := range []string{
		cicapEICAR,
		"ICAP/1.0 204 No Content\r\n\r\n",
		"ICAP/1.0 200 OK\r\nX-Virus-ID: x\r\nEncapsulated: null-body=0\r\n\r\n",
		"ICAP/1.0 200 OK\r\nEncapsulated: req-hdr=0, res-hdr=20, res-body=65\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n",
		"ICAP/1.0 200 OK\r\nX-Violations-Found: 2\r\n\ta\r\n\tb\r\n\r\n",
		"ICAP/1.0 100 Continue\r\n\r\n",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		counter := &countingReader{r: bytes.NewReader(data)}
		resp, err := readICAPResponse(bufio.NewReaderSize(counter, 16<<10))
		if counter.n > maxICAPHead+maxICAPEncHeader+32<<10 {
			t.Fatalf("read %d bytes", counter.n)
		}
		if err != nil {
			return
		}
		r, err := icapVerdict(resp, "")
		if err != nil {
			return
		}
		switch r.Verdict {
		case Clean:
			if resp.Status != 204 || !bytes.HasPrefix(data, []byte("ICAP/1.")) || !bytes.Contains(bytes.SplitN(data, []byte("\n"), 2)[0], []byte(" 204")) {
				t.Fatalf("%q read as clean", data)
			}
		case Infected:
			if r.Threat == "" || resp.Status != 200 {
				t.Fatalf("%q: infected %+v", data, r)
			}
		default:
			t.Fatalf("%q: verdict %q without an error", data, r.Verdict)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzICAPExchange: the whole client exchange (preview, 100 Continue, the
// rest) against a service answering anything: no panic, no hang, and clean
// only when the service said 204.
func FuzzICAPExchange(f *testing.F) {
	f.Add([]byte("ICAP/1.0 204 No Content\r\n\r\n"), 10)
	f.Add([]byte("ICAP/1.0 100 Continue\r\n\r\nICAP/1.0 204 No Content\r\n\r\n"), 4000)
	f.Add([]byte("ICAP/1.0 100 Continue\r\n\r\n"+cicapEICAR), 4000)
	f.Add([]byte("ICAP/1.0 100 Continue\r\n\r\nICAP/1.0 100 Continue\r\n\r\n"), 4000)
	f.Add([]byte(cicapEICAR), 0)
	f.Fuzz(func(t *testing.T, answer []byte, size int) {
		if size < 0 || size > 1<<16 {
			return
		}
		client, server := net.Pipe()
		defer client.Close()
		deadline := time.Now().Add(2 * time.Second)
		client.SetDeadline(deadline)
		server.SetDeadline(deadline)
		go io.Copy(io.Discard, server)
		go func() { server.Write(answer); server.Close() }()
		resp, err := icapExchange(client, icapTarget{uri: "icap://x/y", host: "x:1344"}, "RESPMOD", 1024, bytes.Repeat([]byte("a"), size))
		if time.Now().After(deadline) {
			t.Fatalf("%q: exchange hung", answer)
		}
		if err != nil {
			return
		}
		r, err := icapVerdict(resp, "")
		if err == nil && r.Verdict == Clean && !bytes.Contains(answer, []byte(" 204")) {
			t.Fatalf("%q read as clean", answer)
		}
	})
}
