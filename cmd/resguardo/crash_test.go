package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// crashInputs are a few thousand messages in every container format.
func crashInputs(t *testing.T) []string {
	corpus := corpustest.Dir(t)
	return []string{
		filepath.Join(corpus, "real", "linux-mips", "sample"),
		filepath.Join(corpus, "real", "open-iscsi-googlegroups"),
		filepath.Join(corpus, "real", "osst-users-spam"),
		filepath.Join(corpus, "torture", "sisimai-bounces"), // maildirs and mbox files
		filepath.Join(corpus, "torture", "stalwart-mail-parser", "malformed"),
	}
}

// smallBatches makes commits frequent so that kills land in every phase of one.
func smallBatches(t *testing.T) string {
	cfg := filepath.Join(t.TempDir(), "resguardo.toml")
	if err := os.WriteFile(cfg, []byte("[archive]\nbatch_size = 37\n[import]\nbatch_delay = \"3ms\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// allIDs lists every record id in a data directory.
func allIDs(t *testing.T, data string) map[string]bool {
	t.Helper()
	out := mustCLI(t, "list", "--data", data, "--json", "--limit", "0")
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var it listItem
		if err := json.Unmarshal([]byte(line), &it); err != nil {
			t.Fatal(err)
		}
		if ids[it.ID] {
			t.Fatalf("record %s listed twice", it.ID)
		}
		ids[it.ID] = true
	}
	return ids
}

func fsckClean(t *testing.T, data string, quick bool) {
	t.Helper()
	args := []string{"fsck", "--data", data, "--json"}
	if quick {
		args = append(args, "--quick")
	}
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("fsck after crash: exit %d\n%s\n%s", code, clipOut(out), errOut)
	}
}

// TestKill9DuringImport SIGKILLs imports at random moments, many times, and proves
// after each kill that catalog, blobs and ledger agree and that every message the
// import reported archived is there; then a final run completes the import with no
// duplicates and no gaps.
func TestKill9DuringImport(t *testing.T) {
	inputs := crashInputs(t)
	cfg := smallBatches(t)

	// Reference: an uninterrupted import of the same inputs.
	ref := filepath.Join(t.TempDir(), "ref")
	mustCLI(t, append([]string{"import", "--data", ref, "--config", cfg, "--progress", "never"}, inputs...)...)
	want := allIDs(t, ref)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RESGUARDO_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set RESGUARDO_CRASH_SEED to repeat)", seed)
	rng := mrand.New(mrand.NewPCG(seed, 7))

	data := filepath.Join(t.TempDir(), "data")
	reported := map[string]bool{}
	kills := 0
	for i := 0; i < 14; i++ {
		cmd := selfCmd(t, append([]string{"import", "--data", data, "--config", cfg, "--json", "--progress", "never"}, inputs...)...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var lines []string
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
		}()
		// Kills land anywhere from initialisation to the middle of a commit; every
		// run leaves work for the next, so the archive (and its ledger tiles) grow.
		delay := time.Duration(rng.IntN(400)) * time.Millisecond
		time.Sleep(delay)
		killed := cmd.Process.Signal(syscall.SIGKILL) == nil
		wg.Wait()
		err = cmd.Wait()
		if killed && err != nil {
			kills++
		}
		n := 0
		for _, l := range lines {
			var ev importEvent
			if json.Unmarshal([]byte(l), &ev) == nil && ev.Event == "archived" {
				reported[ev.ID] = true
				n++
			}
		}
		t.Logf("run %d: killed after %v, %d archived reported", i, delay, n)
		if _, err := os.Stat(filepath.Join(data, "FORMAT")); err != nil {
			continue // killed before the data directory existed
		}
		fsckClean(t, data, i%2 == 1)
		have := allIDs(t, data)
		for id := range reported {
			if !have[id] {
				t.Fatalf("run %d: %s was reported archived but is not in the archive", i, id)
			}
		}
	}
	if kills == 0 {
		t.Fatal("no import was actually killed")
	}
	// Finish the import.
	mustCLI(t, append([]string{"import", "--data", data, "--config", cfg, "--progress", "never"}, inputs...)...)
	fsckClean(t, data, false)
	have := allIDs(t, data)
	if len(have) != len(want) {
		t.Fatalf("after recovery %d records, uninterrupted import has %d", len(have), len(want))
	}
	for id := range want {
		if !have[id] {
			t.Fatalf("record %s missing after recovery", id)
		}
	}
	st := mustCLI(t, "ledger", "status", "--data", data, "--json")
	var ls ledgerStatus
	if err := json.Unmarshal([]byte(st), &ls); err != nil || ls.Size != int64(len(want)) || ls.CatalogEntries != ls.Size {
		t.Fatalf("ledger %+v %v, want size %d", ls, err, len(want))
	}
}

// TestInterruptedImport sends SIGINT: the import stops cleanly, prints its summary,
// exits 130, and a rerun completes it.
func TestInterruptedImport(t *testing.T) {
	inputs := crashInputs(t)
	cfg := smallBatches(t)
	data := filepath.Join(t.TempDir(), "data")
	cmd := selfCmd(t, append([]string{"import", "--data", data, "--config", cfg, "--json", "--progress", "never"}, inputs...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var last string
	n := 0
	for sc.Scan() {
		last = sc.Text()
		if n++; n == 300 {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	var sum importSummary
	if jerr := json.Unmarshal([]byte(last), &sum); jerr != nil || sum.Event != "summary" {
		t.Fatalf("last line %q is not a summary (%v)", last, jerr)
	}
	if !sum.Interrupted || cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("interrupted=%v exit=%d err=%v", sum.Interrupted, cmd.ProcessState.ExitCode(), err)
	}
	fsckClean(t, data, false)
	again := mustCLI(t, append([]string{"import", "--data", data, "--config", cfg, "--json", "--progress", "never"}, inputs...)...)
	lines := strings.Split(strings.TrimSpace(again), "\n")
	var sum2 importSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum2); err != nil {
		t.Fatal(err)
	}
	if sum2.Duplicate < sum.Archived || sum2.LedgerSize != sum.Archived+sum2.Archived {
		t.Fatalf("rerun: %+v after %+v", fmt.Sprint(sum2.Archived, sum2.Duplicate, sum2.LedgerSize), sum.Archived)
	}
}
