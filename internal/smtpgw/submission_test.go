package smtpgw

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
)

const anaPass = "Contraseña-Segura-2024"

func submissionConfig(t testing.TB) (Config, *tls.Config) {
	srvTLS, cliTLS := testTLS(t)
	c := DefaultConfig(ChannelSubmission)
	c.TLS = srvTLS
	c.Hostname = "smtp." + testDomain
	c.ReadTimeout = 5 * time.Second
	c.WriteTimeout = 5 * time.Second
	return c, cliTLS
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// startTLS upgrades a raw client after EHLO.
func (c *rawClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.cmd("STARTTLS", "220 ")
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

func TestSubmissionAuthBeforeTLS(t *testing.T) {
	t.Parallel()
	cfg, _ := submissionConfig(t)
	ts := startServer(t, cfg, Options{Authenticator: testAuth()})
	c := dialRaw(t, ts.addr)
	ehlo := c.greet()
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("EHLO before TLS:\n%s", ehlo)
	}
	c.cmd("AUTH PLAIN "+plainIR("ana.lopez", anaPass), "530 5.7.0 ")
	c.cmd("AUTH LOGIN", "530 5.7.0 ")
	c.cmd("MAIL FROM:<ana.lopez@"+testDomain+">", "530 5.7.0 ")
	if strings.Contains(ts.logs.text(), anaPass) {
		t.Error("password in the log")
	}
}

func TestSubmissionSendsWithNetSMTP(t *testing.T) {
	t.Parallel()
	cfg, cliTLS := submissionConfig(t)
	ts := startServer(t, cfg, Options{Authenticator: testAuth()})
	c, err := smtp.Dial(ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(cliTLS); err != nil {
		t.Fatal(err)
	}
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH %v %q", ok, mechs)
	}
	if err := c.Auth(smtp.PlainAuth("", "ana.lopez", anaPass, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	// MAIL FROM must be the user's.
	if err := c.Mail("otra.persona@" + testDomain); !isReply(err, "550", "5.7.1") {
		t.Fatalf("foreign MAIL FROM: %v", err)
	}
	send := func(from, headerFrom string) error {
		if err := c.Mail(from); err != nil {
			return err
		}
		if err := c.Rcpt("destinatario@correo-externo.mx"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		msg := "From: " + headerFrom + "\r\nTo: destinatario@correo-externo.mx\r\nSubject: Respuesta\r\n\r\nQuedo atenta.\r\n"
		if _, err := w.Write([]byte(msg)); err != nil {
			return err
		}
		return w.Close()
	}
	if err := send("ana.lopez@"+testDomain, `"Ana López" <Ana.Lopez@`+testDomain+`>`); err != nil {
		t.Fatal(err)
	}
	// Header From not the user's: refused.
	if err := send("direccion.juridica@"+testDomain, "jefe@"+testDomain); !isReply(err, "550", "5.7.1") {
		t.Fatalf("foreign header From: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	ds := ts.d.deliveries()
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	if e := ds[0].env; e.AuthUser != "ana.lopez" || e.TLS == nil || e.Channel != ChannelSubmission {
		t.Errorf("envelope %+v", e)
	}
}

func TestSubmissionImplicitTLSLogin(t *testing.T) {
	t.Parallel()
	cfg, cliTLS := submissionConfig(t)
	cfg.ImplicitTLS = true
	ts := startServer(t, cfg, Options{Authenticator: testAuth()})
	tc, err := tls.Dial("tcp", ts.addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: tc, r: bufio.NewReader(tc)}
	t.Cleanup(func() { _ = tc.Close() })
	ehlo := c.greet()
	if strings.Contains(ehlo, "STARTTLS") || !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
		t.Errorf("EHLO over implicit TLS:\n%s", ehlo)
	}
	c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("oficialia")), "334 UGFzc3dvcmQ6")
	c.cmd(base64.StdEncoding.EncodeToString([]byte("otra-clave")), "235 ")
	c.cmd("MAIL FROM:<turnos@cdmx.gob.mx>", "250 ")
	c.cmd("RCPT TO:<ciudadano@correo-externo.mx>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("From: Oficialía <turnos@cdmx.gob.mx>\r\nSubject: Acuse\r\n\r\nAcuse de recibo.\r\n.\r\n")
	c.expect("250 ")
	c.cmd("QUIT", "221 ")
}

func TestSubmissionBruteForceLockout(t *testing.T) {
	t.Parallel()
	cfg, cliTLS := submissionConfig(t)
	cfg.MaxErrors = 100
	clock := &fakeClock{t: time.Date(2024, 3, 12, 10, 0, 0, 0, time.UTC)}
	ts := startServer(t, cfg, Options{Authenticator: testAuth(), Now: clock.Now})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.startTLS(cliTLS)
	c.cmd("EHLO cliente.ejemplo.mx", "250 ")
	for i := range 5 {
		c.cmd("AUTH PLAIN "+plainIR("ana.lopez", "intento"+string(rune('0'+i))), "535 5.7.8 ")
	}
	// Locked: even the right password is refused, without being checked.
	c.cmd("AUTH PLAIN "+plainIR("ana.lopez", anaPass), "454 4.7.0 ")
	// The client address is locked too, for any user.
	c.cmd("AUTH PLAIN "+plainIR("oficialia", "otra-clave"), "454 4.7.0 ")
	clock.Add(14 * time.Minute)
	c.cmd("AUTH PLAIN "+plainIR("ana.lopez", anaPass), "454 4.7.0 ")
	clock.Add(2 * time.Minute)
	c.cmd("AUTH PLAIN "+plainIR("ana.lopez", anaPass), "235 ")
	if strings.Contains(ts.logs.text(), anaPass) {
		t.Error("password in the log")
	}
}

func TestAuthLimiter(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	l := NewAuthLimiter(3, time.Minute, 10*time.Minute, clock.Now)
	l.Fail("user:a")
	l.Fail("user:a")
	clock.Add(2 * time.Minute) // window passed: count restarts
	if l.Fail("user:a") || l.Locked("user:a") {
		t.Fatal("locked after failures spread over more than the window")
	}
	l.Fail("user:a")
	if !l.Fail("user:a") || !l.Locked("user:a") || l.Locked("user:b") {
		t.Fatal("not locked after 3 failures in the window")
	}
	clock.Add(10 * time.Minute)
	if l.Locked("user:a") {
		t.Fatal("still locked after the lockout")
	}
	l.Fail("user:a")
	l.Reset("user:a")
	l.Fail("user:a")
	l.Fail("user:a")
	if l.Locked("user:a") {
		t.Fatal("Reset did not clear failures")
	}
}

func TestSubmissionAuthenticatorError(t *testing.T) {
	t.Parallel()
	cfg, cliTLS := submissionConfig(t)
	auth := AuthenticatorFunc(func(context.Context, string, string) (Identity, error) {
		return Identity{}, os.ErrDeadlineExceeded
	})
	ts := startServer(t, cfg, Options{Authenticator: auth})
	c := dialRaw(t, ts.addr)
	c.greet()
	c.startTLS(cliTLS)
	c.cmd("EHLO cliente.ejemplo.mx", "250 ")
	r := c.cmd("AUTH PLAIN "+plainIR("ana.lopez", anaPass), "454 4.7.0 ")
	if strings.Contains(r, "deadline") {
		t.Errorf("internal error leaked: %q", r)
	}
}

// TestSwaksSubmission uses swaks (Debian package swaks) as the client:
// STARTTLS, then AUTH LOGIN and AUTH PLAIN. With CI=true a missing swaks
// fails the test.
func TestSwaksSubmission(t *testing.T) {
	t.Parallel()
	swaks := corpustest.Program(t, "swaks", "swaks")
	cfg, _ := submissionConfig(t)
	ts := startServer(t, cfg, Options{Authenticator: testAuth()})
	host, port, _ := net.SplitHostPort(ts.addr)
	run := func(t *testing.T, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		base := []string{"--server", host, "--port", port, "--tls", "--helo", "cliente.ejemplo.mx",
			"--to", "destinatario@correo-externo.mx", "--header", "Subject: Prueba con swaks"}
		out, err := exec.CommandContext(ctx, swaks, append(base, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, mech := range []string{"LOGIN", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			out, err := run(t, "--from", "ana.lopez@"+testDomain, "--auth", mech,
				"--auth-user", "ana.lopez", "--auth-password", anaPass)
			if err != nil {
				t.Fatalf("swaks: %v\n%s", err, out)
			}
			if !strings.Contains(out, "220 2.0.0 Ready to start TLS") || !strings.Contains(out, "~> AUTH "+mech) || !strings.Contains(out, "235 2.0.0") ||
				!strings.Contains(out, "250 2.0.0 OK") {
				t.Errorf("swaks transcript:\n%s", out)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		out, err := run(t, "--from", "ana.lopez@"+testDomain, "--auth", "LOGIN",
			"--auth-user", "ana.lopez", "--auth-password", "equivocada")
		if err == nil || !strings.Contains(out, "535 5.7.8") {
			t.Errorf("swaks with a wrong password: %v\n%s", err, out)
		}
	})
	t.Run("foreign sender", func(t *testing.T) {
		out, err := run(t, "--from", "secretario@"+testDomain, "--auth", "PLAIN",
			"--auth-user", "ana.lopez", "--auth-password", anaPass)
		if err == nil || !strings.Contains(out, "550 5.7.1") {
			t.Errorf("swaks with a foreign sender: %v\n%s", err, out)
		}
	})
	ds := ts.d.deliveries()
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
	for _, d := range ds {
		if d.env.AuthUser != "ana.lopez" || d.env.TLS == nil || !strings.Contains(string(d.data), "Subject: Prueba con swaks") {
			t.Errorf("delivery %+v", d.env)
		}
	}
}

// isReply reports whether a net/smtp error is the given reply.
func isReply(err error, code, enhanced string) bool {
	return err != nil && strings.HasPrefix(err.Error(), code) && strings.Contains(err.Error(), enhanced)
}
