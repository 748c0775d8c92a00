package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/resguardo/resguardo/internal/corpustest"
)

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	corpustest.Require(t, "headless Chromium is not installed (apt-get install chromium)")
	return ""
}

// TestPublicVerificationPage drives the public page in headless Chromium: the
// service started as the README says, a constancia issued, then a valid and a
// tampered message uploaded through the form.
func TestPublicVerificationPage(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	msg, _ := filepath.Abs(filepath.Join("testdata", "es", "respuesta-solicitud.eml"))
	id := idOf(t, msg)
	out := filepath.Join(dir, "c")
	mustCLI(t, "constancia", "--data", data, "--out", out, id)
	bad := filepath.Join(dir, "alterado.eml")
	b, _ := os.ReadFile(msg)
	os.WriteFile(bad, append(b, '\n'), 0o644)

	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		done <- m.Run(ctx, []string{"serve", "--data", data, "--listen", addr})
	}()
	waitHTTP(t, "http://"+addr+"/healthz")

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(filepath.Join(dir, "chrome")),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	bctx, cancelT := context.WithTimeout(browser, 60*time.Second)
	defer cancelT()

	check := func(message string, withP7S bool, want string) string {
		t.Helper()
		steps := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate("http://" + addr + "/verificar?lang=es&id=" + id),
			chromedp.WaitVisible(chromedp.ID("verificar")),
			chromedp.SetUploadFiles(chromedp.ID("mensaje"), []string{message}),
			chromedp.SetUploadFiles(chromedp.ID("constancia"), []string{filepath.Join(out, "constancia.json")}),
		}
		if withP7S {
			steps = append(steps, chromedp.SetUploadFiles(chromedp.ID("firma"), []string{filepath.Join(out, "constancia.p7s")}))
		}
		steps = append(steps, chromedp.Click(chromedp.ID("verificar")), chromedp.WaitVisible(chromedp.ID("veredicto")))
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("chromium: %v", err)
		}
		verdict, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("veredicto")))
		if err != nil {
			t.Fatal(err)
		}
		result, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("resultado")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(verdict, want) {
			t.Fatalf("verdict %q, want %q\n%s", verdict, want, result)
		}
		return result
	}
	res := check(msg, true, "VERIFICADA")
	if strings.Count(res, "✓") < 8 || strings.Contains(res, "!") {
		t.Fatalf("valid message, all steps and no warnings expected:\n%s", res)
	}
	res = check(bad, false, "NO VERIFICADA")
	if !strings.Contains(res, "✗ El mensaje es el de la constancia") {
		t.Fatalf("tampered message must fail at the message step:\n%s", res)
	}
	cancel()
	<-done
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if resp, err := httpGet(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}
