package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/keys"
)

// TestServeTLS: serve speaks HTTPS with a configured certificate (the session
// cookie is then __Host- and Secure), and on a non-loopback address without
// one it uses the generated certificate rather than plain HTTP — unless
// server.insecure_http says a proxy terminates TLS. Plain HTTP stays the
// loopback default.
func TestServeTLS(t *testing.T) {
	certDir := t.TempDir()
	cert, key, _, err := keys.InitGatewayTLS(certDir, "archivo.ejemplo.gob.mx", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pemCA, _ := os.ReadFile(cert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemCA)
	trusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	anyCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	plain := &http.Client{Timeout: 5 * time.Second}

	start := func(t *testing.T, listen, server string) (port string, stderr *lockedBuffer) {
		t.Helper()
		dir := t.TempDir()
		cfg := filepath.Join(dir, "resguardo.toml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf("data = %q\n[server]\n%s\n", filepath.Join(dir, "data"), server)), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := selfCmd(t, "serve", "--config", cfg, "--listen", listen)
		stderr = &lockedBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
		_, port, _ = strings.Cut(listen, ":")
		if strings.HasPrefix(listen, "[") {
			port = listen[strings.LastIndex(listen, ":")+1:]
		}
		return port, stderr
	}
	get := func(c *http.Client, url string) (*http.Response, error) {
		var resp *http.Response
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if resp, err = c.Get(url); err == nil {
				return resp, nil
			}
		}
		return nil, err
	}

	t.Run("configured certificate", func(t *testing.T) {
		addr := freePort(t)
		start(t, addr, fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q", cert, key))
		_, port, _ := strings.Cut(addr, ":")
		resp, err := get(trusting, "https://localhost:"+port+"/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("https /healthz: %v %v", resp, err)
		}
		resp.Body.Close()
		resp, err = trusting.Get("https://localhost:" + port + "/entrar")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := strings.Join(resp.Header.Values("Set-Cookie"), "\n"); !strings.Contains(c, "__Host-") || !strings.Contains(c, "Secure") {
			t.Errorf("session cookie over HTTPS is not __Host- and Secure: %q", c)
		}
		if resp, err := plain.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the HTTPS listener")
		}
	})

	t.Run("every interface without a certificate: generated one", func(t *testing.T) {
		_, port, _ := strings.Cut(freePort(t), ":")
		_, stderr := start(t, "0.0.0.0:"+port, "")
		resp, err := get(anyCert, "https://127.0.0.1:"+port+"/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("https with the generated certificate: %v %v\n%s", resp, err, stderr)
		}
		resp.Body.Close()
		if st := resp.TLS; st == nil || len(st.PeerCertificates) == 0 || !strings.Contains(st.PeerCertificates[0].Subject.String(), "autofirmado") {
			t.Errorf("not the generated certificate: %+v", st)
		}
		if resp, err := plain.Get("http://127.0.0.1:" + port + "/healthz"); err == nil && resp.StatusCode == 200 {
			t.Error("plain HTTP on every interface by default")
		}
	})

	t.Run("insecure_http behind a proxy", func(t *testing.T) {
		_, port, _ := strings.Cut(freePort(t), ":")
		start(t, "0.0.0.0:"+port, "insecure_http = true")
		resp, err := get(plain, "http://127.0.0.1:"+port+"/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("plain HTTP with insecure_http: %v %v", resp, err)
		}
		resp.Body.Close()
	})

	t.Run("config check", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "c.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("[server]\ntls_cert_file = %q\ninsecure_http = true\n", cert)), 0o600)
		out, errOut, code := cli(t, "config", "check", "--config", cfg)
		if all := out + errOut; code == 0 || !strings.Contains(all, "server.tls_cert_file") || !strings.Contains(all, "server.insecure_http") {
			t.Errorf("config check: %d %s", code, all)
		}
	})
}
