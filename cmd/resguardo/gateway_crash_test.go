package main

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/dnstest"
)

// TestKill9DuringGateway: `resguardo serve` receives mail on its MX listener from
// eight concurrent clients and is SIGKILLed at random moments, several times. After
// every kill the data directory passes fsck, and every message a client saw
// acknowledged with 250 is in the archive, byte-exact — the gateway's promise
// ("250 only when durable"). Messages whose session was cut may or may not be
// there (the client will retry them), but never half.
func TestKill9DuringGateway(t *testing.T) {
	dns, err := dnstest.Start(dnstest.Zone{Records: dnstest.MustParse(`remitente.mx. TXT "v=spf1 ip4:127.0.0.1 -all"`)})
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Stop()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mx := freePort(t)
	cfgPath := filepath.Join(dir, "resguardo.toml")
	cfg := fmt.Sprintf("data = %q\n[archive]\nbatch_size = 7\n[gateway]\nhostname = \"mx.%s\"\ndomains = [%q]\ndns_server = %q\ndns_timeout = \"2s\"\n[gateway.listen]\nmx = %q\n",
		data, gwDomain, gwDomain, dns.Addr, mx)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RESGUARDO_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RESGUARDO_CRASH_SEED to repeat)", seed)
	rng := mrand.New(mrand.NewPCG(seed, 11))

	acked := map[string]bool{} // SHA-256 of every message that got 250
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
					msg := gwMessage("Oficialía <oficialia@remitente.mx>", "juan.perez@"+gwDomain,
						fmt.Sprintf("Oficio SF/%05d/2026", n), fmt.Sprintf("Se remite el oficio número %d para su atención.", n))
					if sendSMTP(mx, "cliente.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msg) == "" {
						mu.Lock()
						acked[shaHex(msg)] = true
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
		for id := range acked {
			if !have[id] {
				t.Fatalf("round %d: message %s was acknowledged with 250 but is not in the archive", round, id)
			}
		}
	}
	if len(acked) < 20 {
		t.Fatalf("only %d messages acknowledged in all rounds: the test did not exercise the gateway", len(acked))
	}
}
