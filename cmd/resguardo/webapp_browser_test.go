package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/identity"
)

// lockedBuffer is an io.Writer that a test can read while serve writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// xssMail is a message with script in every place a browser could run it; each
// payload would mark the top document (its title, or data-pwned on its body).
const xssMail = "From: \"<img src=x onerror=\\\"document.body.dataset.pwned=1\\\">\" <atacante@ejemplo.com>\r\n" +
	"To: \"Lucía <script>document.title='pwned'</script>\" <lsanchez@transparencia.ejemplo.gob.mx>\r\n" +
	"Subject: Oficio urgente <script>document.title='pwned'</script><svg onload=\"document.body.dataset.pwned=1\">\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 -0600\r\n" +
	"Message-ID: <xss-navegador@ejemplo.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
	"--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n" +
	"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n<script>document.title='pwned'</script> oficio urgente\r\n" +
	"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
	"<html><head><meta http-equiv=\"refresh\" content=\"0;url=javascript:parent.document.body.dataset.pwned=1\"></head><body>" +
	"<p>Oficio urgente</p><script>parent.document.body.dataset.pwned=1; top.document.title='pwned'; window.top.pwned=1</script>" +
	"<img src=\"x\" onerror=\"parent.document.body.dataset.pwned=1\"><svg onload=\"parent.document.body.dataset.pwned=1\"></svg>" +
	"<a id=\"js\" href=\"javascript:parent.document.body.dataset.pwned=1\">abrir</a>" +
	"<form action=\"javascript:parent.document.body.dataset.pwned=1\"><button id=\"enviar\">enviar</button></form>" +
	"<div style=\"width:expression(alert(1))\">css</div></body></html>\r\n" +
	"--b2--\r\n" +
	"--b1\r\nContent-Type: text/html; name=\"x.html\"\r\n" +
	"Content-Disposition: attachment; filename*=UTF-8''%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.html\r\n\r\n" +
	"<script>parent.document.body.dataset.pwned=1</script>\r\n" +
	"--b1--\r\n"

// TestWebAppBrowser drives the web application in headless Chromium as a
// newcomer following the README would: serve started on an empty data
// directory, the first administrator's printed password, the forced password
// change, TOTP enrolment, logout; mail imported with `resguardo import` while
// serve runs; login with the keyboard alone (password and
// TOTP), a justified search, the message page, the constancia JSON downloaded
// and verified offline and on the public page /verificar (valid, then one byte
// of the message and of the constancia changed), a message full of script that
// never runs, the access log, the dashboard, the system page; a servidor
// público denied another's message (404) and the administration pages (403);
// the owner of the mail seeing on "Quién consultó mi correo" the accesses just
// made. Every page is checked with axe-core (WCAG 2 A and AA; no serious or
// critical violation). A screenshot of every step is kept in the artifact
// directory ($RESGUARDO_ARTIFACTS/webapp, or the test's temporary directory).
func TestWebAppBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	axe := axeScript(t)
	dir := t.TempDir()
	shots := filepath.Join(dir, "capturas")
	if a := os.Getenv("RESGUARDO_ARTIFACTS"); a != "" {
		shots = filepath.Join(a, "webapp")
	}
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)
	data := filepath.Join(dir, "data")
	msg, _ := filepath.Abs(filepath.Join("testdata", "es", "respuesta-solicitud.eml"))
	id := idOf(t, msg)
	mail := filepath.Join(dir, "correo")
	os.MkdirAll(mail, 0o755)
	xssFile := filepath.Join(mail, "oficio-xss.eml")
	if err := os.WriteFile(xssFile, []byte(xssMail), 0o644); err != nil {
		t.Fatal(err)
	}
	xssID := idOf(t, xssFile)

	// serve, as the README starts it.
	addr := freePort(t)
	base := "http://" + addr
	stderr := &lockedBuffer{}
	var stopServe func()
	startServe := func() {
		t.Helper()
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			m := &Main{Stdout: &lockedBuffer{}, Stderr: stderr, Getenv: func(string) string { return "" }}
			done <- m.Run(sctx, []string{"serve", "--data", data, "--listen", addr})
		}()
		stopServe = func() {
			t.Helper()
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}
			stopServe = nil
		}
		waitHTTP(t, base+"/healthz")
	}
	startServe()
	defer func() {
		if stopServe != nil {
			stopServe()
		}
	}()
	var password string
	for i := 0; i < 100 && password == ""; i++ {
		if m := regexp.MustCompile(`contraseña: (\S+)`).FindStringSubmatch(stderr.String()); m != nil {
			password = m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	if password == "" || !strings.Contains(stderr.String(), "Debe cambiarla al iniciar sesión por primera vez") {
		t.Fatalf("serve did not print the first administrator's password:\n%s", stderr.String())
	}
	// Pedro, a servidor público whose address is in none of the mail, and Lucía,
	// the recipient of the message the administrator will read.
	ctx := context.Background()
	cat, err := catalog.OpenSQLite(ctx, archive.Layout{Dir: data}.Catalog(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(cat, identity.Options{SecretKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []identity.NewUser{
		{Login: "pedro", DisplayName: "Pedro", Password: "Contraseña-del-servidor-2026", Roles: []identity.Role{identity.RoleServidorPublico}, Addresses: []string{"pedro@ejemplo.gob.mx"}},
		{Login: "lucia", DisplayName: "Lucía Sánchez Ortega", Password: "Contraseña-de-la-servidora-2026", Roles: []identity.Role{identity.RoleServidorPublico}, Addresses: []string{"lsanchez@transparencia.ejemplo.gob.mx"}},
	} {
		if _, _, err := ids.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cat.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(filepath.Join(dir, "chrome")),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(bctx, 5*time.Minute)
	defer cancelT()

	// run performs one step, checks the page it ends on with axe-core and keeps
	// its screenshot.
	// axe-core works here: a page with an unlabelled field fails.
	if err := chromedp.Do(tctx, chromedp.Navigate(`data:text/html,<!doctype html><html lang="es"><title>x</title><main><input></main></html>`)); err != nil {
		t.Fatal(err)
	}
	if vs, err := axeRun(tctx, axe); err != nil || len(vs) == 0 || vs[0].ID != "label" {
		t.Fatalf("axe-core on an unlabelled field: %v %+v", err, vs)
	}
	step, axeChecked := 0, 0
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tctx, 30*time.Second)
		defer cancel()
		fail := func(err error) {
			t.Helper()
			loc, _ := chromedp.Run(tctx, chromedp.Location())
			if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(filepath.Join(shots, "fallo-"+name+".png"), png, 0o644)
			}
			t.Fatalf("%s: %v (at %s)", name, err, loc)
		}
		if err := chromedp.Do(sctx, actions...); err != nil {
			fail(err)
		}
		step++
		png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
		vs, err := axeRun(sctx, axe)
		if err != nil {
			fail(fmt.Errorf("axe-core: %w", err))
		}
		axeChecked++
		if len(vs) > 0 {
			loc, _ := chromedp.Run(tctx, chromedp.Location())
			t.Errorf("%s (%s): accessibility violations (axe-core %s):\n%s", name, loc, axeVersion, axeReport(vs))
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.ID(sel)))
		if err != nil {
			t.Fatalf("text of #%s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	login := func(name, pw string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Navigate(base+"/entrar?lang=es"), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
			chromedp.SetValue(chromedp.ID("usuario-campo"), name), chromedp.SetValue(chromedp.ID("contrasena"), pw))
	}
	status := func(path string) int64 {
		t.Helper()
		r, err := chromedp.Run(tctx, chromedp.NavigateResponse(base+path))
		if err != nil || r == nil {
			t.Fatalf("%s: %v", path, err)
		}
		return r.Status
	}

	run("entrar", login("admin", password))
	run("cambio-de-contrasena", chromedp.Click(chromedp.ID("entrar")), chromedp.WaitVisible(chromedp.ID("nueva")))
	newPW := "Clave-nueva-de-la-jefa-2026" // may not contain the login
	run("segundo-factor", chromedp.SetValue(chromedp.ID("actual"), password), chromedp.SetValue(chromedp.ID("nueva"), newPW),
		chromedp.SetValue(chromedp.ID("confirmacion"), newPW), chromedp.Click(chromedp.ID("cambiar")), chromedp.WaitVisible(chromedp.ID("secreto")))
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(text("secreto"))
	if err != nil {
		t.Fatal(err)
	}
	enrolled := time.Now()
	run("codigos-de-recuperacion", chromedp.SetValue(chromedp.ID("codigo"), identity.TOTPCode(key, enrolled)),
		chromedp.Click(chromedp.ID("confirmar")), chromedp.WaitVisible(chromedp.ID("codigos")))
	if n := strings.Count(text("codigos"), "-"); n != 3*identity.RecoveryCodes {
		t.Fatalf("recovery codes: %q", text("codigos"))
	}
	run("inicio-vacio", chromedp.Click(chromedp.ID("continuar")), chromedp.WaitVisible(chromedp.ID("hoy")))
	// The administrator gives themselves the auditor role on the user page,
	// so they may read the imported mail once they have typed a justification.
	run("usuarios", chromedp.Navigate(base+"/admin/usuarios"), chromedp.WaitVisible(chromedp.ID("usuarios")))
	run("editar-usuario", chromedp.Click(chromedp.CSS(`#usuarios a[href$="/1"]`)), chromedp.WaitVisible(chromedp.ID("rol-auditor")))
	run("rol-auditor", chromedp.Click(chromedp.ID("rol-auditor")), chromedp.Click(chromedp.ID("guardar")),
		chromedp.WaitVisible(chromedp.CSS("p.alert.info")))
	run("salir", chromedp.Click(chromedp.ID("salir")), chromedp.WaitVisible(chromedp.ID("usuario-campo")))

	// The README's import, while serve runs: `resguardo import` hands the
	// messages to serve through its socket (serve holds the writer lock).
	out := mustCLI(t, "import", "--data", data, "testdata/es", mail)
	if err := os.WriteFile(filepath.Join(shots, "importacion.txt"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	// Login with the keyboard alone: Tab to each field (the focus always
	// visible), type, Enter; the TOTP code the same way.
	keyboard := chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		// From the top of the page: the skip link is the first stop.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("a.skip").focus(); true`)); err != nil {
			return err
		}
		for i := 0; ; i++ {
			if _, err := chromedp.Run(ctx, chromedp.KeyEvent("\t")); err != nil {
				return err
			}
			ok, desc, err := focusVisible(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("focus not visible on %s", desc)
			}
			if strings.Contains(desc, `id="usuario-campo"`) {
				break
			}
			if i > 20 {
				return fmt.Errorf("the user field is not reached with Tab (at %s)", desc)
			}
		}
		if _, err := chromedp.Run(ctx, chromedp.KeyEvent("admin\t")); err != nil {
			return err
		}
		ok, desc, err := focusVisible(ctx)
		if err != nil || !ok || !strings.Contains(desc, `id="contrasena"`) {
			return fmt.Errorf("after the user field, focus on %s (visible %v, %v)", desc, ok, err)
		}
		_, err = chromedp.Run(ctx, chromedp.KeyEvent(newPW+"\r"))
		return err
	})
	run("entrar-con-teclado", chromedp.Navigate(base+"/entrar?lang=es"), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
		keyboard, chromedp.WaitVisible(chromedp.ID("codigo")))
	// A code is good once: use the next time step when the enrolment's is still current.
	at := time.Now()
	if at.Unix()/identity.TOTPPeriod == enrolled.Unix()/identity.TOTPPeriod {
		at = at.Add(identity.TOTPPeriod * time.Second)
	}
	run("codigo-totp", chromedp.Focus(chromedp.ID("codigo")), chromedp.KeyEvent(identity.TOTPCode(key, at)+"\r"), chromedp.WaitVisible(chromedp.ID("hoy")))
	run("justificacion", chromedp.Navigate(base+"/buscar"), chromedp.WaitVisible(chromedp.ID("justificacion")))
	run("buscar", chromedp.SetValue(chromedp.ID("justificacion"), "Prueba de extremo a extremo: solicitud 330024324000123"),
		chromedp.Click(chromedp.ID("justificar")), chromedp.WaitVisible(chromedp.ID("q")))
	run("resultados", chromedp.SetValue(chromedp.ID("q"), "solicitud"), chromedp.SetValue(chromedp.ID("de"), "ut@ejemplo.gob.mx"),
		chromedp.Click(chromedp.ID("buscar")), chromedp.WaitVisible(chromedp.ID("resultados")))
	if total := text("total"); total != "1" {
		t.Fatalf("results: %s", total)
	}
	// (the pause lets the sandboxed HTML body load before the screenshot)
	run("mensaje", chromedp.Click(chromedp.CSS(".hit a.subject")), chromedp.WaitVisible(chromedp.ID("asunto")), chromedp.Sleep(time.Second))
	if s := text("asunto"); !strings.Contains(s, "Solicitud de acceso 330024324000123") {
		t.Fatalf("message page subject %q", s)
	}
	downloads := filepath.Join(dir, "descargas")
	progress := chromedp.Events(tctx, browser.DownloadProgress)
	run("constancia", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptrTo(true)})
		return err
	}), chromedp.Click(chromedp.ID("constancia-json")))
	var got string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			got = filepath.Join(downloads, ev.GUID)
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download canceled")
		}
	}
	doc, err := os.ReadFile(got)
	if err != nil || !bytes.Contains(doc, []byte(id)) {
		t.Fatalf("constancia: %v\n%s", err, doc)
	}
	saved := filepath.Join(shots, "constancia.json")
	if err := os.WriteFile(saved, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, "verify", msg, saved); !strings.Contains(out, "VERIFIED") && !strings.Contains(out, "VERIFICADA") {
		t.Fatalf("the downloaded constancia does not verify:\n%s", out)
	}

	// The public verification page, linked in the header: the message and the
	// downloaded constancia verify; one byte changed in either does not.
	raw, _ := os.ReadFile(msg)
	i := bytes.Index(raw, []byte("tiempo y forma"))
	badMsg := filepath.Join(dir, "alterado.eml")
	os.WriteFile(badMsg, append(append(append([]byte{}, raw[:i]...), 'T'), raw[i+1:]...), 0o644)
	// (record.sha256: the statement's text is covered only by the .p7s)
	loc := regexp.MustCompile(`"sha256": *"` + id).FindIndex(doc)
	if loc == nil {
		t.Fatalf("constancia without record.sha256:\n%s", doc)
	}
	j := loc[1] - len(id)
	flip := byte('0')
	if doc[j] == '0' {
		flip = '1'
	}
	badDoc := filepath.Join(dir, "constancia-alterada.json")
	os.WriteFile(badDoc, append(append(append([]byte{}, doc[:j]...), flip), doc[j+1:]...), 0o644)
	verify := func(name, message, constancia, want string) string {
		t.Helper()
		run(name, chromedp.Navigate(base+"/inicio"), chromedp.WaitVisible(chromedp.ID("hoy")),
			chromedp.Click(chromedp.CSS(`header a[href="/verificar"]`)), chromedp.WaitVisible(chromedp.ID("verificar")),
			chromedp.SetUploadFiles(chromedp.ID("mensaje"), []string{message}),
			chromedp.SetUploadFiles(chromedp.ID("constancia"), []string{constancia}),
			chromedp.Click(chromedp.ID("verificar")), chromedp.WaitVisible(chromedp.ID("veredicto")))
		if v := text("veredicto"); !strings.HasSuffix(v, want) {
			t.Fatalf("%s: verdict %q, want %q\n%s", name, v, want, text("resultado"))
		}
		return text("resultado")
	}
	if res := verify("verificar-valida", msg, saved, " VERIFICADA"); strings.Contains(res, "✗") {
		t.Fatalf("valid constancia, a step failed:\n%s", res)
	}
	if res := verify("verificar-mensaje-alterado", badMsg, saved, "NO VERIFICADA"); !strings.Contains(res, "✗ El mensaje es el de la constancia") {
		t.Fatalf("tampered message must fail at the message step:\n%s", res)
	}
	if res := verify("verificar-constancia-alterada", msg, badDoc, "NO VERIFICADA"); !strings.Contains(res, "✗") {
		t.Fatalf("tampered constancia:\n%s", res)
	}

	// Script in a message never runs in the app's origin: not from the
	// subject, the addresses, the attachment name, nor the HTML body in its
	// sandboxed frame (which could otherwise reach parent.document).
	run("resultados-xss", chromedp.Navigate(base+"/buscar?q=oficio+urgente"), chromedp.WaitVisible(chromedp.ID("resultados")), chromedp.Sleep(500*time.Millisecond))
	run("mensaje-xss", chromedp.Click(chromedp.CSS(`.hit a.subject[href="/mensaje/`+xssID+`"]`)), chromedp.WaitVisible(chromedp.ID("asunto")),
		chromedp.WaitVisible(chromedp.CSS("iframe.html")), chromedp.Sleep(2*time.Second))
	type marks struct {
		Title, Pwned, Frame string
		Window              bool
		Scripts             int
	}
	m, err := chromedp.Run(tctx, chromedp.Evaluate[marks](`({Title: document.title, Pwned: String(document.body.dataset.pwned),
		Window: "pwned" in window, Scripts: document.scripts.length,
		Frame: document.querySelector("iframe.html").getAttribute("sandbox")})`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Title, "pwned") || m.Pwned != "undefined" || m.Window || m.Scripts != 1 || m.Frame != "allow-popups allow-popups-to-escape-sandbox" {
		t.Fatalf("script from the message ran or the frame is not sandboxed: %+v", m)
	}
	if s := text("asunto"); !strings.Contains(s, "<script>document.title='pwned'</script>") {
		t.Fatalf("the subject is not shown as text: %q", s)
	}

	// The access log (everyone's), the dashboard and the system page.
	run("bitacora", chromedp.Navigate(base+"/auditoria/accesos"), chromedp.WaitVisible(chromedp.ID("filtrar")))
	if s := text("contenido"); !strings.Contains(s, "330024324000123") || !strings.Contains(s, "Lectura") {
		t.Fatalf("access log page: %q", s)
	}
	run("tablero", chromedp.Navigate(base+"/inicio"), chromedp.WaitVisible(chromedp.ID("grafica-dias")))
	if s := text("hoy"); s == "0" {
		t.Fatalf("archived today: %s", s)
	}
	run("sistema", chromedp.Navigate(base+"/admin/sistema"), chromedp.WaitVisible(chromedp.ID("llaves")))
	run("usuarios-lista", chromedp.Navigate(base+"/admin/usuarios"), chromedp.WaitVisible(chromedp.ID("usuarios")))

	// Someone else cannot open it by its address: the same 404 as a missing
	// page; nor the administration and audit pages: 403.
	run("otro-usuario", chromedp.Click(chromedp.ID("salir")), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
		login("pedro", "Contraseña-del-servidor-2026"), chromedp.Click(chromedp.ID("entrar")), chromedp.WaitVisible(chromedp.ID("mi-correo")))
	if c := status("/mensaje/" + id); c != 404 {
		t.Fatalf("another person's message: %d", c)
	}
	run("denegado", chromedp.WaitVisible(chromedp.ID("error")))
	if s := text("error"); !strings.Contains(s, "No existe") {
		t.Fatalf("another user's view of the message: %q", s)
	}
	for _, p := range []string{"/admin/usuarios", "/auditoria/accesos", "/admin/sistema"} {
		if c := status(p); c != 403 {
			t.Fatalf("%s for a servidor público: %d", p, c)
		}
	}
	run("prohibido", chromedp.WaitVisible(chromedp.ID("error")))

	// Lucía, whose mail it is, sees who read it and why.
	run("destinataria", chromedp.Navigate(base+"/inicio"), chromedp.Click(chromedp.ID("salir")), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
		login("lucia", "Contraseña-de-la-servidora-2026"), chromedp.Click(chromedp.ID("entrar")), chromedp.WaitVisible(chromedp.ID("mi-correo")))
	run("quien-consulto-mi-correo", chromedp.Navigate(base+"/cuenta/accesos"), chromedp.WaitVisible(chromedp.CSS("#contenido table")))
	if s := text("contenido"); !strings.Contains(s, "admin") || !strings.Contains(s, "Prueba de extremo a extremo: solicitud 330024324000123") {
		t.Fatalf("Lucía's access page: %q", s)
	}
	t.Logf("%d steps, every page checked with axe-core %s", step, axeVersion)
	if axeChecked != step {
		t.Fatalf("axe-core ran on %d of %d pages", axeChecked, step)
	}
	stopServe()

	// The access log holds what the administrator did, with the justification
	// (the HTML body's entry shows the sandboxed iframe was loaded), and nothing
	// of Pedro's refused attempts.
	db, err := sql.Open("sqlite", "file:"+archive.Layout{Dir: data}.Catalog()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT actor, action, detail FROM access_log ORDER BY ledger_index")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var log []string
	for rows.Next() {
		var actor, action, detail string
		if err := rows.Scan(&actor, &action, &detail); err != nil {
			t.Fatal(err)
		}
		var d archive.AccessDetail
		json.Unmarshal([]byte(detail), &d)
		reads := action == "search" || action == "read" || action == "download"
		if actor == "user:admin" && reads && !strings.Contains(d.Justification, "330024324000123") || actor == "user:pedro" && action != "access_log" {
			t.Errorf("access entry %s %s: %+v", actor, action, d)
		}
		log = append(log, actor+" "+action+" "+d.Query)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"user:admin user_update user:admin roles:administrador,auditor", "user:admin search", "user:admin read message",
		"user:admin read html body", "user:admin download constancia json", "user:admin access_log all", "user:lucia access_log own"} {
		if !strings.Contains(all, want) {
			t.Errorf("access log lacks %q:\n%s", want, all)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
