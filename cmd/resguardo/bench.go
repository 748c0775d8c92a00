package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// benchResult is one measured run.
type benchResult struct {
	Seconds  float64 `json:"seconds"`
	MaxRSSKB int64   `json:"max_rss_kb"`
}

// benchReport is what `bench import --json` prints.
type benchReport struct {
	Date          string    `json:"date"`
	GoVersion     string    `json:"go"`
	CPUs          int       `json:"cpus"`
	Corpus        string    `json:"corpus"`
	Files         int       `json:"files"`
	RawBytes      int64     `json:"raw_bytes"`
	Runs          int       `json:"runs"`
	Messages      int64     `json:"messages"` // items the import processed (archived + already present)
	Archived      int64     `json:"archived"`
	Malformed     int64     `json:"malformed"`
	ImportSeconds float64   `json:"import_seconds_median"`
	MsgsPerSec    float64   `json:"messages_per_second"`
	MBPerSec      float64   `json:"mb_per_second"`
	CatSeconds    float64   `json:"cat_seconds_median"`
	ShaSeconds    float64   `json:"sha256sum_seconds_median"`
	StoredBytes   int64     `json:"stored_blob_bytes"`
	DataDirBytes  int64     `json:"data_dir_bytes"`
	StoredRatio   float64   `json:"stored_over_raw"`
	PeakRSSMB     float64   `json:"peak_rss_mb_max"`
	ImportRuns    []float64 `json:"import_runs_seconds"`
}

func runBench(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "search":
		return runBenchSearch(ctx, m, rest)
	case "gen":
		return runBenchGen(ctx, m, rest)
	case "gateway":
		return runBenchGateway(ctx, m, rest)
	case "antivirus":
		return runBenchAntivirus(ctx, m, rest)
	case "web":
		return runBenchWeb(ctx, m, rest)
	case "import":
	default:
		return &exitError{code: 2, err: errors.New("usage: resguardo bench import|search|gen|gateway|antivirus|web [flags]")}
	}
	fs := flag.NewFlagSet("bench import", flag.ContinueOnError)
	corpus := fs.String("corpus", "", "the shared corpus (default $RESGUARDO_CORPUS or ../shared/corpus found upwards)")
	runs := fs.Int("runs", 3, "measured runs of each command (medians are reported)")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	work := fs.String("work", "", "scratch directory (default a temporary one, removed afterwards)")
	if _, err := m.parse(fs, rest); err != nil {
		return err
	}
	if *corpus == "" {
		*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
	}
	if *corpus == "" {
		return &exitError{code: 2, err: errors.New("bench: corpus not found; pass --corpus DIR")}
	}
	scratch := *work
	if scratch == "" {
		d, err := os.MkdirTemp("", "resguardo-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		scratch = d
	}
	say := func(format string, a ...any) { fmt.Fprintf(m.Stderr, format+"\n", a...) }
	say("bench: extracting packed sets into %s", scratch)
	unpacked := filepath.Join(scratch, "unpacked")
	if err := extractPacks(*corpus, unpacked); err != nil {
		return err
	}
	inputs := []string{*corpus, unpacked}
	files, raw, err := listInputFiles(inputs)
	if err != nil {
		return err
	}
	rep := benchReport{Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Corpus: *corpus, Files: len(files), RawBytes: raw, Runs: *runs}
	listFile := filepath.Join(scratch, "files.list")
	if err := os.WriteFile(listFile, []byte(strings.Join(files, "\x00")), 0o600); err != nil {
		return err
	}
	shell := func(cmd string) (benchResult, error) {
		return timeCmd(ctx, exec.Command("sh", "-c", cmd))
	}
	catCmd := fmt.Sprintf("xargs -0 cat < %q > /dev/null", listFile)
	shaCmd := fmt.Sprintf("xargs -0 sha256sum < %q > /dev/null", listFile)
	if _, err := shell(catCmd); err != nil { // warm the page cache: every command then reads from memory
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var cats, shas, imps []float64
	var maxRSS int64
	for i := 0; i < *runs; i++ {
		r, err := shell(catCmd)
		if err != nil {
			return err
		}
		cats = append(cats, r.Seconds)
		if r, err = shell(shaCmd); err != nil {
			return err
		}
		shas = append(shas, r.Seconds)
		data := filepath.Join(scratch, fmt.Sprintf("data-%d", i))
		var out bytes.Buffer
		cmd := exec.Command(self, "import", "--data", data, "--progress", "never", "--json", "--no-index")
		cmd.Args = append(cmd.Args, inputs...)
		cmd.Stdout, cmd.Stderr = &out, io.Discard
		cmd.Env = append(os.Environ(), "RESGUARDO_LANG=en")
		r, err = timeCmd(ctx, cmd)
		var sum importSummary
		lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
		if jerr := json.Unmarshal(lines[len(lines)-1], &sum); jerr != nil {
			return fmt.Errorf("bench: import run %d: %v (%v)", i, err, jerr)
		}
		if err != nil && sum.Failed == 0 {
			return fmt.Errorf("bench: import run %d: %w", i, err)
		}
		imps = append(imps, r.Seconds)
		maxRSS = max(maxRSS, r.MaxRSSKB)
		rep.Messages, rep.Archived, rep.Malformed = sum.Archived+sum.Duplicate, sum.Archived, sum.Malformed
		rep.StoredBytes = dirSize(filepath.Join(data, "blobs"))
		rep.DataDirBytes = dirSize(data)
		rep.StoredRatio = float64(rep.StoredBytes) / float64(max(sum.Bytes, 1))
		say("bench: run %d: cat %.2fs, sha256sum %.2fs, import %.2fs (%d messages, %d MB RSS)", i+1, cats[i], shas[i], r.Seconds, rep.Messages, r.MaxRSSKB/1024)
		os.RemoveAll(data)
	}
	rep.ImportRuns = imps
	rep.CatSeconds, rep.ShaSeconds, rep.ImportSeconds = median(cats), median(shas), median(imps)
	rep.MsgsPerSec = float64(rep.Messages) / rep.ImportSeconds
	rep.MBPerSec = float64(raw) / 1e6 / rep.ImportSeconds
	rep.PeakRSSMB = float64(maxRSS) / 1024
	if *jsonOut {
		return writeJSON(m, rep)
	}
	w := m.Stdout
	fmt.Fprintf(w, "corpus:            %s (%d files, %.1f MB)\n", rep.Corpus, rep.Files, float64(raw)/1e6)
	fmt.Fprintf(w, "messages:          %d (%d archived, %d malformed)\n", rep.Messages, rep.Archived, rep.Malformed)
	fmt.Fprintf(w, "import (median):   %.2f s  → %.0f messages/s, %.1f MB/s\n", rep.ImportSeconds, rep.MsgsPerSec, rep.MBPerSec)
	fmt.Fprintf(w, "cat > /dev/null:   %.2f s  (import is %.1f× slower)\n", rep.CatSeconds, rep.ImportSeconds/rep.CatSeconds)
	fmt.Fprintf(w, "sha256sum:         %.2f s  (import is %.1f× slower)\n", rep.ShaSeconds, rep.ImportSeconds/rep.ShaSeconds)
	fmt.Fprintf(w, "stored / raw:      %.1f %% (blobs), data dir %.1f MB\n", rep.StoredRatio*100, float64(rep.DataDirBytes)/1e6)
	fmt.Fprintf(w, "peak RSS:          %.0f MB\n", rep.PeakRSSMB)
	return nil
}

func timeCmd(ctx context.Context, cmd *exec.Cmd) (benchResult, error) {
	start := time.Now()
	err := cmd.Run()
	r := benchResult{Seconds: time.Since(start).Seconds()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSKB = ru.Maxrss
		}
	}
	return r, err
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// findCorpus returns env, or the first "shared/corpus" beside an ancestor of the
// working directory.
func findCorpus(env string) string {
	if env != "" {
		return env
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		c := filepath.Join(dir, "shared", "corpus")
		if _, err := os.Stat(filepath.Join(c, "README.md")); err == nil {
			return c
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// extractPacks unpacks every *.tar.zst under corpus into dst/<relative path>/.
func extractPacks(corpus, dst string) error {
	return filepath.WalkDir(corpus, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tar.zst") {
			return err
		}
		rel, _ := filepath.Rel(corpus, path)
		return untarZst(path, filepath.Join(dst, strings.TrimSuffix(rel, ".tar.zst")))
	})
}

func untarZst(path, dst string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("%s: unsafe path %q", path, h.Name)
		}
		out := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			return err
		}
		w, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

func listInputFiles(paths []string) ([]string, int64, error) {
	var files []string
	var total int64
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || strings.HasSuffix(path, ".tar.zst") {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, path)
			total += info.Size()
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return files, total, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
