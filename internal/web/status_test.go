package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/constancia"
)

func newTestServer(t *testing.T, healthy bool) *httptest.Server {
	t.Helper()
	s, err := New(Options{
		Status: func(context.Context) (Status, error) {
			return Status{Version: "t", Records: 12345, Bytes: 5 << 20, LedgerSize: 12345, Origin: "x/y", Started: time.Unix(0, 0)}, nil
		},
		Health: func(context.Context) error {
			if healthy {
				return nil
			}
			return errors.New("catalog unavailable")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestStatusPages(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true)
	resp, body := get(t, ts.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Registros archivados") || !strings.Contains(body, "12,345") || !strings.Contains(body, `lang="es-MX"`) {
		t.Fatalf("spanish page: %d\n%s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("security headers: %v", resp.Header)
	}
	_, body = get(t, ts.URL+"/", "Accept-Language", "en-US,en;q=0.9")
	if !strings.Contains(body, "Archived records") {
		t.Fatal("Accept-Language: en not honoured")
	}
	resp, body = get(t, ts.URL+"/api/v1/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Records != 12345 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json status: %v %s", err, body)
	}
	if resp, _ := get(t, ts.URL+"/nada"); resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	if resp, _ := get(t, ts.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

func TestHealthUnavailable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false)
	resp, body := get(t, ts.URL+"/healthz")
	if resp.StatusCode != 503 || strings.Contains(body, "catalog") {
		t.Fatalf("healthz: %d %s (must not leak the error)", resp.StatusCode, body)
	}
	if _, body := get(t, ts.URL+"/"); !strings.Contains(body, "Con fallas") {
		t.Fatal("status page does not show the failure")
	}
}

func TestLedgerHandler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(dir+"/tile/0/x001", 0o755)
	os.MkdirAll(dir+"/tile/entries/000.p", 0o755)
	os.WriteFile(dir+"/checkpoint", []byte("o\n1\nAAAA\n\n— o sig\n"), 0o644)
	os.WriteFile(dir+"/tile/0/x001/234", []byte("tile"), 0o644)
	os.WriteFile(dir+"/tile/entries/000.p/7", []byte("bundle"), 0o644)
	os.WriteFile(dir+"/secret", []byte("no"), 0o644)
	ts := httptest.NewServer(LedgerHandler(dir))
	defer ts.Close()
	for path, want := range map[string]int{
		"/ledger/checkpoint": 200, "/ledger/tile/0/x001/234": 200, "/ledger/tile/entries/000.p/7": 200,
		"/ledger/secret": 404, "/ledger/../secret": 404, "/ledger/tile/0/x001/235": 404, "/ledger/tile/0/1234": 404,
		"/ledger/tile/0/000.p/256": 404, "/ledger/tile/64/000": 404,
	} {
		resp, body := get(t, ts.URL+path)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %q, want %d", path, resp.StatusCode, body, want)
		}
	}
	resp, _ := get(t, ts.URL+"/ledger/tile/0/x001/234")
	if !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("full tile cache-control %q", resp.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequest("POST", ts.URL+"/ledger/checkpoint", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v", resp.StatusCode, err)
	}
}

func TestVerifyPage(t *testing.T) {
	t.Parallel()
	var got [3][]byte
	s, err := New(Options{
		Status: func(context.Context) (Status, error) { return Status{}, nil },
		Health: func(context.Context) error { return nil },
		Verify: func(msg, doc, p7s []byte) *constancia.Report {
			got = [3][]byte{msg, doc, p7s}
			return &constancia.Report{OK: string(msg) == "bueno", Steps: []constancia.Step{{Key: "message", OK: string(msg) == "bueno", Detail: "d"}}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	post := func(fields map[string]string) (int, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, v := range fields {
			w, _ := mw.CreateFormFile(k, k+".bin")
			w.Write([]byte(v))
		}
		mw.Close()
		resp, err := http.Post(ts.URL+"/verificar", mw.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	if code, body := post(map[string]string{"mensaje": "bueno", "constancia": "{}", "firma": "p7"}); code != 200 || !strings.Contains(body, "VERIFICADA") || string(got[2]) != "p7" {
		t.Fatalf("valid: %d\n%s", code, body)
	}
	if code, body := post(map[string]string{"mensaje": "malo", "constancia": "{}"}); code != 200 || !strings.Contains(body, "NO VERIFICADA") || !strings.Contains(body, "✗") {
		t.Fatalf("invalid: %d\n%s", code, body)
	}
	if code, _ := post(map[string]string{"mensaje": "x"}); code != 400 {
		t.Fatalf("missing constancia: %d", code)
	}
	resp, err := http.Post(ts.URL+"/verificar", "text/plain", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("not multipart: %v %v", resp.StatusCode, err)
	}
	if resp, body := get(t, ts.URL+"/verificar?id=abc<script>"); resp.StatusCode != 200 || strings.Contains(body, "<script>") {
		t.Fatalf("form must escape the id: %s", body)
	}
}

// TestAppMounted: with Options.App, paths the server does not take go to the
// application, and the status page links its login page.
func TestAppMounted(t *testing.T) {
	t.Parallel()
	s, err := New(Options{
		Status: func(context.Context) (Status, error) { return Status{Started: time.Unix(0, 0)}, nil },
		Health: func(context.Context) error { return nil },
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "app "+r.URL.Path)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	if resp, body := get(t, ts.URL+"/entrar"); resp.StatusCode != http.StatusTeapot || body != "app /entrar" {
		t.Fatalf("/entrar: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, ts.URL+"/"); resp.StatusCode != 200 || !strings.Contains(body, `href="/entrar"`) {
		t.Fatalf("status page: %d", resp.StatusCode)
	}
	if resp, _ := get(t, ts.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
}
