package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/dnstest"
)

// benchGatewayReport is `resguardo bench gateway --json`.
type benchGatewayReport struct {
	Date     string             `json:"date"`
	Clients  int                `json:"clients"`
	Messages int                `json:"messages"`
	Bytes    int64              `json:"bytes"`
	Results  []benchGatewaySide `json:"results"`
}

type benchGatewaySide struct {
	Name        string  `json:"name"`
	Accepted    int     `json:"accepted"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"messages_per_second"`
	P50         float64 `json:"p50_ms"` // from the end of DATA to the reply
	P99         float64 `json:"p99_ms"`
	CPUPerMsgMS float64 `json:"cpu_ms_per_message"` // user + system of the server and its children
	Done        string  `json:"done"`               // what 250 meant
	// DeliveredSeconds: from the start of the load until the last accepted message
	// was in Postfix's maildir, or relayed by Resguardo to its next hop.
	DeliveredSeconds float64 `json:"delivered_seconds,omitempty"`
}

const benchRcpt = "juan.perez@sefin.ejemplo.gob.mx"

// runBenchGateway sends the same bounded load (clients × messages of real corpus
// mail, one SMTP connection per client) to Resguardo's MX listener (checks, archive,
// 250 when durable) and to a Postfix instance delivering to a maildir, the system
// people run today, and reports accepted messages/s, the time from end of DATA to
// 250, and CPU per message.
func runBenchGateway(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("bench gateway", flag.ContinueOnError)
	clients := fs.Int("clients", 8, "concurrent SMTP clients")
	perClient := fs.Int("messages", 250, "messages per client")
	corpus := fs.String("corpus", "", "the shared corpus (default: found upwards)")
	withPostfix := fs.Bool("postfix", true, "run Postfix side by side (needs root and Debian postfix)")
	batchDelay := fs.Duration("batch-delay", config.Default().Archive.BatchDelay.D(), "serve's archive.batch_delay")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if *corpus == "" {
		*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
	}
	if *corpus == "" {
		return &exitError{code: 2, err: errors.New("bench gateway: the shared corpus was not found: give --corpus DIR or set RESGUARDO_CORPUS")}
	}
	n := *clients * *perClient
	msgs, err := benchMessages(*corpus, n)
	if err != nil {
		return err
	}
	rep := benchGatewayReport{Date: time.Now().UTC().Format(time.RFC3339), Clients: *clients, Messages: n}
	for _, b := range msgs {
		rep.Bytes += int64(len(b))
	}
	scratch, err := os.MkdirTemp("", "resguardo-bench-gw-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	os.Chmod(scratch, 0o755)
	say := func(format string, a ...any) { fmt.Fprintf(m.Stderr, format+"\n", a...) }

	// Resguardo: serve with the MX listener; SPF, DKIM and DMARC ask a local DNS server.
	dns, err := dnstest.Start(dnstest.Zone{Records: dnstest.MustParse(`remitente.mx. TXT "v=spf1 ip4:127.0.0.1 -all"`)})
	if err != nil {
		return err
	}
	defer dns.Stop()
	mx, err := benchFreePort()
	if err != nil {
		return err
	}
	web, _ := benchFreePort()
	// The next hop: an SMTP server in this process that counts and discards, so
	// that the relay's work (queue, delivery, delivery entry) is part of the load.
	hop, err := startCountingSink()
	if err != nil {
		return err
	}
	defer hop.close()
	cfg := filepath.Join(scratch, "resguardo.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data = %q\n[archive]\nbatch_delay = %q\n[gateway]\nhostname = \"mx.sefin.ejemplo.gob.mx\"\ndomains = [\"sefin.ejemplo.gob.mx\"]\ndns_server = %q\nmax_connections_per_ip = %d\n[gateway.listen]\nmx = %q\n[gateway.relay]\nnext_hop = %q\n",
		filepath.Join(scratch, "data"), batchDelay.String(), dns.Addr, *clients+4, mx, hop.addr)), 0o600)
	self, _ := os.Executable()
	serveArgs := []string{"serve", "--config", cfg, "--listen", web}
	if prof := m.Getenv("RESGUARDO_BENCH_CPUPROFILE"); prof != "" {
		serveArgs = append([]string{"--cpuprofile", prof}, serveArgs...) // where serve's time goes
	}
	srv := exec.Command(self, serveArgs...)
	srv.Env = append(os.Environ(), "RESGUARDO_LANG=en")
	var srvErr strings.Builder
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		return err
	}
	t0 := time.Now()
	side, err := benchSMTPLoad("resguardo", mx, *clients, msgs)
	if err == nil {
		for deadline := time.Now().Add(5 * time.Minute); hop.count() < int64(side.Accepted) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		side.DeliveredSeconds = time.Since(t0).Seconds()
		if hop.count() < int64(side.Accepted) {
			err = fmt.Errorf("bench gateway: only %d of %d accepted messages reached the next hop", hop.count(), side.Accepted)
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, srvErr.String())
	}
	side.CPUPerMsgMS = cpuMS(srv.ProcessState) / float64(max(side.Accepted, 1))
	side.Done = "archived and queued: blob, catalog, queue and ledger fsync'd, checks run; then relayed to a next hop with a delivery entry each"
	rep.Results = append(rep.Results, side)
	say("bench gateway: resguardo %d accepted in %.1fs", side.Accepted, side.Seconds)

	if *withPostfix {
		side, err := benchPostfix(scratch, *clients, msgs)
		if err != nil {
			return fmt.Errorf("bench gateway: postfix: %w", err)
		}
		rep.Results = append(rep.Results, side)
		say("bench gateway: postfix %d accepted in %.1fs", side.Accepted, side.Seconds)
	}
	if *jsonOut {
		return writeJSON(m, rep)
	}
	fmt.Fprintf(m.Stdout, "load: %d clients × %d messages = %d real messages (%.1f MB), loopback\n", *clients, *perClient, n, float64(rep.Bytes)/1e6)
	for _, s := range rep.Results {
		fmt.Fprintf(m.Stdout, "%-10s %5d accepted  %7.0f msg/s  end of DATA → 250 p50 %6.1f ms  p99 %6.1f ms  CPU %.2f ms/msg  all delivered after %.1f s  (%s)\n",
			s.Name, s.Accepted, s.Rate, s.P50, s.P99, s.CPUPerMsgMS, s.DeliveredSeconds, s.Done)
	}
	if len(rep.Results) == 2 && rep.Results[1].Rate > 0 {
		fmt.Fprintf(m.Stdout, "ratio resguardo/postfix: rate %.2f, p99 %.2f, CPU %.2f\n", rep.Results[0].Rate/rep.Results[1].Rate,
			rep.Results[0].P99/rep.Results[1].P99, rep.Results[0].CPUPerMsgMS/rep.Results[1].CPUPerMsgMS)
	}
	return nil
}

func benchFreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func cpuMS(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return float64((ps.UserTime() + ps.SystemTime()).Microseconds()) / 1000
}

// benchMessages reads n real messages (under 1 MB, with CRLF line ends as SMTP
// carries them) from the corpus's mailing-list sets, repeating them if needed.
func benchMessages(corpus string, n int) ([][]byte, error) {
	var out [][]byte
	for _, d := range []string{"real/open-iscsi-googlegroups", "real/linux-mips/sample"} {
		files, _, _ := listInputFiles([]string{filepath.Join(corpus, d)})
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || len(b) > 1<<20 || !strings.HasSuffix(f, ".eml") {
				continue
			}
			b = []byte(strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n"))
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no messages in %s", corpus)
	}
	for i := 0; len(out) < n; i++ {
		out = append(out, out[i])
	}
	return out[:n], nil
}

// benchSMTPLoad sends msgs over `clients` connections and times each end of DATA.
func benchSMTPLoad(name, addr string, clients int, msgs [][]byte) (benchGatewaySide, error) {
	for i := 0; ; i++ { // until the server listens
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 600 {
			return benchGatewaySide{}, fmt.Errorf("%s never listened on %s", name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var mu sync.Mutex
	var lat []float64
	var firstErr error
	accepted := 0
	next := 0
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := smtp.Dial(addr)
			if err != nil {
				mu.Lock()
				firstErr = errors.Join(firstErr, err)
				mu.Unlock()
				return
			}
			defer cl.Close()
			if err := cl.Hello("cliente.remitente.mx"); err != nil {
				return
			}
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(msgs) {
					cl.Quit()
					return
				}
				if cl.Mail("oficialia@remitente.mx") != nil || cl.Rcpt(benchRcpt) != nil {
					cl.Reset()
					continue
				}
				w, err := cl.Data()
				if err != nil {
					continue
				}
				w.Write(msgs[i])
				t0 := time.Now()
				err = w.Close() // sends "." and reads the reply
				d := time.Since(t0)
				mu.Lock()
				if err == nil {
					accepted++
					lat = append(lat, float64(d.Microseconds())/1000)
				} else if firstErr == nil {
					firstErr = fmt.Errorf("message %d: %w", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if accepted == 0 {
		return benchGatewaySide{}, fmt.Errorf("%s accepted nothing: %v", name, firstErr)
	}
	p := pcts(lat)
	sort.Float64s(lat)
	p99 := lat[min(len(lat)-1, len(lat)*99/100)]
	return benchGatewaySide{Name: name, Accepted: accepted, Seconds: secs, Rate: float64(accepted) / secs, P50: p[0], P99: p99}, nil
}

// benchPostfix runs a Postfix instance (master in the foreground, so its CPU and
// its children's are ours to measure) delivering to a maildir, sends it the load,
// and waits until every accepted message is delivered.
func benchPostfix(scratch string, clients int, msgs [][]byte) (benchGatewaySide, error) {
	dir := filepath.Join(scratch, "pf")
	port, err := benchFreePort()
	if err != nil {
		return benchGatewaySide{}, err
	}
	pf, err := newPostfixInstance(dir, port, "")
	if err != nil {
		return benchGatewaySide{}, fmt.Errorf("%w (or --postfix=false)", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "mail"), 0o755); err != nil {
		return benchGatewaySide{}, err
	}
	os.Chown(filepath.Join(dir, "mail"), pf.uid, pf.gid)
	f, err := os.OpenFile(filepath.Join(dir, "main.cf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return benchGatewaySide{}, err
	}
	fmt.Fprintf(f, `myhostname = correo.sefin.ejemplo.gob.mx
virtual_mailbox_domains = sefin.ejemplo.gob.mx
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:buzon/
virtual_uid_maps = static:%[2]d
virtual_gid_maps = static:%[3]d
virtual_mailbox_limit = 0
message_size_limit = 0
smtpd_client_connection_count_limit = 0
`, dir, pf.uid, pf.gid)
	f.Close()
	fg := pf.command("start-fg")
	if err := fg.Start(); err != nil {
		return benchGatewaySide{}, err
	}
	loadStart := time.Now()
	side, loadErr := benchSMTPLoad("postfix", port, clients, msgs)
	// Wait for delivery: Postfix's 250 means queued; the maildir is the end.
	delivered := func() int {
		a, _ := os.ReadDir(filepath.Join(dir, "mail", "buzon", "new"))
		return len(a)
	}
	for deadline := time.Now().Add(5 * time.Minute); loadErr == nil && delivered() < side.Accepted && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	side.DeliveredSeconds = time.Since(loadStart).Seconds()
	pf.command("stop").Run()
	fg.Wait()
	if loadErr != nil {
		return side, fmt.Errorf("%w\n%s", loadErr, pf.log())
	}
	side.CPUPerMsgMS = cpuMS(fg.ProcessState) / float64(max(side.Accepted, 1))
	side.Done = fmt.Sprintf("queued (fsync'd), then %d delivered to a maildir", delivered())
	return side, nil
}

// countingSink is an SMTP server that counts the messages it receives.
type countingSink struct {
	addr string
	n    atomic.Int64
	srv  *gosmtp.Server
}

type countingSession struct{ s *countingSink }

func (c countingSession) Reset()                                 {}
func (c countingSession) Logout() error                          { return nil }
func (c countingSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (c countingSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (c countingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	c.s.n.Add(1)
	return nil
}

func startCountingSink() (*countingSink, error) {
	s := &countingSink{}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return countingSession{s}, nil }))
	s.srv.Domain = "correo.sefin.ejemplo.gob.mx"
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

func (s *countingSink) count() int64 { return s.n.Load() }
func (s *countingSink) close()       { s.srv.Close() }
