package main

import (
	"fmt"
	"io"
	"log"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/dnstest"
)

// TestKill9DuringGateway: `resguardo serve` receives mail on its MX listener from
// eight concurrent clients and is SIGKILLed at random moments, several times. After
// every kill the data directory passes fsck, and every message a client saw
// acknowledged with 250 is in the archive, byte-exact — the gateway's promise
// ("250 only when durable"). Messages whose session was cut may or may not be
// there (the client will retry them), but never half. With a next hop configured,
// every acknowledged message is also in the outbound queue after every kill, and
// after a last clean start every one of them reaches the next hop (at least
// once: a copy interrupted by a kill is sent again, with the same bytes).
func TestKill9DuringGateway(t *testing.T) {
	hop := startSubjectSink(t)
	dns, err := dnstest.Start(dnstest.Zone{Records: dnstest.MustParse(`remitente.mx. TXT "v=spf1 ip4:127.0.0.1 -all"`)})
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Stop()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mx := freePort(t)
	cfgPath := filepath.Join(dir, "resguardo.toml")
	cfg := fmt.Sprintf("data = %q\n[archive]\nbatch_size = 7\n[gateway]\nhostname = \"mx.%s\"\ndomains = [%q]\ndns_server = %q\ndns_timeout = \"2s\"\n[gateway.listen]\nmx = %q\n"+
		"[gateway.relay]\nnext_hop = %q\nretry_base = \"100ms\"\nretry_max = \"500ms\"\n",
		data, gwDomain, gwDomain, dns.Addr, mx, hop.addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RESGUARDO_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RESGUARDO_CRASH_SEED to repeat)", seed)
	rng := mrand.New(mrand.NewPCG(seed, 11))

	acked := map[string]bool{}        // SHA-256 of every message that got 250
	ackedSubject := map[string]bool{} // and its subject
	var mu sync.Mutex
	seq := 0
	for round := 0; round < 5; round++ {
		cmd := selfCmd(t, "serve", "--config", cfgPath, "--listen", freePort(t))
		cmd.Stderr = &lockedBuf{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if c, err := net.Dial("tcp", mx); err == nil {
				c.Close()
				break
			}
			if i == 400 {
				cmd.Process.Kill()
				t.Fatalf("round %d: gateway never listened:\n%s", round, cmd.Stderr.(*lockedBuf).String())
			}
			time.Sleep(25 * time.Millisecond)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		sent, ok := 0, 0
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					seq++
					n := seq
					sent++
					mu.Unlock()
					subject := fmt.Sprintf("Oficio SF/%05d/2026", n)
					msg := gwMessage("Oficialía <oficialia@remitente.mx>", "juan.perez@"+gwDomain,
						subject, fmt.Sprintf("Se remite el oficio número %d para su atención.", n))
					if sendSMTP(mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msg) == "" {
						mu.Lock()
						acked[shaHex(msg)] = true
						ackedSubject[subject] = true
						ok++
						mu.Unlock()
					}
				}
			}()
		}
		delay := time.Duration(150+rng.IntN(900)) * time.Millisecond
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		close(stop)
		wg.Wait()
		t.Logf("round %d: killed after %v; %d sent, %d acknowledged", round, delay, sent, ok)
		fsckClean(t, data, round%2 == 1)
		have := allIDs(t, data)
		queued := map[string]bool{}
		for _, q := range queueList(t, data) {
			queued[q.Record] = true
		}
		for id := range acked {
			if !have[id] {
				t.Fatalf("round %d: message %s was acknowledged with 250 but is not in the archive", round, id)
			}
			if !queued[id] {
				t.Fatalf("round %d: message %s was acknowledged with 250 but is neither delivered nor queued", round, id)
			}
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d messages acknowledged in all rounds: the test did not exercise the gateway", len(acked))
	}

	// A last, clean start delivers whatever the kills left in the queue.
	cmd := selfCmd(t, "serve", "--config", cfgPath, "--listen", freePort(t))
	cmd.Stderr = &lockedBuf{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pending := 0
		for _, q := range queueList(t, data) {
			if q.State != "delivered" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queue entries never delivered:\n%s", pending, cmd.Stderr.(*lockedBuf).String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := hop.subjects()
	dups := 0
	for s := range ackedSubject {
		if got[s] == 0 {
			t.Errorf("%s was acknowledged with 250 but never reached the next hop", s)
		}
		if got[s] > 1 {
			dups++
		}
	}
	t.Logf("%d acknowledged messages delivered; %d of them more than once (a kill between the remote's 250 and the delivery entry)", len(ackedSubject), dups)
}

// subjectSink is a go-smtp server counting the messages it receives per Subject.
type subjectSink struct {
	addr string
	mu   sync.Mutex
	got  map[string]int
}

type subjectSession struct{ s *subjectSink }

func (ss subjectSession) Reset()                                 {}
func (ss subjectSession) Logout() error                          { return nil }
func (ss subjectSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (ss subjectSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (ss subjectSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, m.Body)
	ss.s.mu.Lock()
	ss.s.got[m.Header.Get("Subject")]++
	ss.s.mu.Unlock()
	return nil
}

func startSubjectSink(t *testing.T) *subjectSink {
	t.Helper()
	s := &subjectSink{got: map[string]int{}}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return subjectSession{s}, nil }))
	srv.Domain = "correo." + gwDomain
	srv.ErrorLog = log.New(io.Discard, "", 0) // the kills reset connections: expected
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *subjectSink) subjects() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.got)
}
