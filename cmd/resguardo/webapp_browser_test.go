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

// TestWebAppBrowser drives the web application in headless Chromium as a
// newcomer would: the first administrator's printed password, the forced
// password change, TOTP enrolment, logout, login with password and TOTP, a
// justified search, the message page, and the constancia JSON downloaded and
// verified offline. A screenshot of every step is kept in the artifact
// directory ($RESGUARDO_ARTIFACTS/webapp, or the test's temporary directory).
func TestWebAppBrowser(t *testing.T) {
	t.Parallel()
	chrome := chromiumPath(t)
	dir := t.TempDir()
	shots := filepath.Join(dir, "capturas")
	if a := os.Getenv("RESGUARDO_ARTIFACTS"); a != "" {
		shots = filepath.Join(a, "webapp")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	msg, _ := filepath.Abs(filepath.Join("testdata", "es", "respuesta-solicitud.eml"))
	id := idOf(t, msg)

	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		m := &Main{Stdout: &lockedBuffer{}, Stderr: stderr, Getenv: func(string) string { return "" }}
		done <- m.Run(ctx, []string{"serve", "--data", data, "--listen", addr})
	}()
	waitHTTP(t, "http://"+addr+"/healthz")
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
	// A servidor público whose address is in none of the imported mail.
	cat, err := catalog.OpenSQLite(ctx, archive.Layout{Dir: data}.Catalog(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(cat, identity.Options{SecretKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ids.CreateUser(ctx, identity.NewUser{Login: "pedro", DisplayName: "Pedro", Password: "Contraseña-del-servidor-2026",
		Roles: []identity.Role{identity.RoleServidorPublico}, Addresses: []string{"pedro@ejemplo.gob.mx"}}); err != nil {
		t.Fatal(err)
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
	tctx, cancelT := context.WithTimeout(bctx, 3*time.Minute)
	defer cancelT()

	step := 0
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			loc, _ := chromedp.Run(tctx, chromedp.Location())
			if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(filepath.Join(shots, "fallo-"+name+".png"), png, 0o644)
			}
			t.Fatalf("%s: %v (at %s)", name, err, loc)
		}
		png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: screenshot: %v", name, err)
		}
		step++
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), png, 0o644); err != nil {
			t.Fatal(err)
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
	base := "http://" + addr
	login := func(name, pw string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Navigate(base+"/entrar?lang=es"), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
			chromedp.SetValue(chromedp.ID("usuario-campo"), name), chromedp.SetValue(chromedp.ID("contrasena"), pw))
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
	run("inicio", chromedp.Click(chromedp.ID("continuar")), chromedp.WaitVisible(chromedp.ID("hoy")))
	// The administrator gives themselves the auditor role on the user page,
	// so they may read the imported mail once they have typed a justification.
	run("usuarios", chromedp.Navigate(base+"/admin/usuarios"), chromedp.WaitVisible(chromedp.ID("usuarios")))
	run("editar-usuario", chromedp.Click(chromedp.CSS("#usuarios a")), chromedp.WaitVisible(chromedp.ID("rol-auditor")))
	run("rol-auditor", chromedp.Click(chromedp.ID("rol-auditor")), chromedp.Click(chromedp.ID("guardar")),
		chromedp.WaitVisible(chromedp.CSS("p.alert.info")))
	run("justificacion", chromedp.Navigate(base+"/buscar"), chromedp.WaitVisible(chromedp.ID("justificacion")))
	run("salir", chromedp.Click(chromedp.ID("salir")), chromedp.WaitVisible(chromedp.ID("usuario-campo")))

	run("entrar-con-totp", login("admin", newPW), chromedp.Click(chromedp.ID("entrar")), chromedp.WaitVisible(chromedp.ID("codigo")))
	// A code is good once: use the next time step when the enrolment's is still current.
	at := time.Now()
	if at.Unix()/identity.TOTPPeriod == enrolled.Unix()/identity.TOTPPeriod {
		at = at.Add(identity.TOTPPeriod * time.Second)
	}
	run("justificar", chromedp.SetValue(chromedp.ID("codigo"), identity.TOTPCode(key, at)),
		chromedp.Click(chromedp.ID("verificar-codigo")), chromedp.WaitVisible(chromedp.ID("hoy")),
		chromedp.Navigate(base+"/buscar"), chromedp.WaitVisible(chromedp.ID("justificacion")))
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

	// Someone else cannot open it by its address: the same 404 as a missing page.
	run("otro-usuario", chromedp.Click(chromedp.ID("salir")), chromedp.WaitVisible(chromedp.ID("usuario-campo")),
		login("pedro", "Contraseña-del-servidor-2026"), chromedp.Click(chromedp.ID("entrar")), chromedp.WaitVisible(chromedp.ID("mi-correo")))
	run("denegado", chromedp.Navigate(base+"/mensaje/"+id), chromedp.WaitVisible(chromedp.ID("error")))
	if s := text("error"); !strings.Contains(s, "No existe") {
		t.Fatalf("another user's view of the message: %q", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The access log holds what the administrator did, with the justification
	// (the HTML body's entry shows the sandboxed iframe was loaded), and nothing
	// of Pedro's refused attempt.
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
		if actor == "user:admin" && reads && !strings.Contains(d.Justification, "330024324000123") || actor == "user:pedro" {
			t.Errorf("access entry %s %s: %+v", actor, action, d)
		}
		log = append(log, actor+" "+action+" "+d.Query)
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"user:admin user_update user:admin roles:administrador,auditor", "user:admin search", "user:admin read message",
		"user:admin read html body", "user:admin download constancia json", "user:admin access_log all"} {
		if !strings.Contains(all, want) {
			t.Errorf("access log lacks %q:\n%s", want, all)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
