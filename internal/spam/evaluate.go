package spam

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// EvalOptions configure Evaluate. Zero values are usable.
type EvalOptions struct {
	// Bayes configures the built-in classifier trained and tested.
	Bayes BayesOptions
	// External engines (for example *Rspamd, *Spamd) scored on the test half.
	External []Classifier
	// ExternalSample limits the test messages of each class sent to the
	// external engines (0: all): those with the smallest SHA-256, so the
	// sample is deterministic and unbiased. The built-in classifier always
	// scores the whole test half.
	ExternalSample int
	// Parallel is the number of messages scored at once (default 2).
	Parallel int
	// Sanitize, when set, rewrites every message before it is trained or
	// scored (by every engine): see CorpusSanitize.
	Sanitize func([]byte) []byte
	// Group names the dataset of a path for the per-dataset breakdown
	// (default DatasetOf).
	Group func(path string) string
	// Thresholds are extra thresholds of the built-in classifier to report
	// false-positive rate and recall at (a sweep).
	Thresholds []float64
	// MaxListed bounds the paths of false positives listed per engine
	// (default 20).
	MaxListed int
}

// Report is the outcome of Evaluate.
type Report struct {
	TrainHam, TrainSpam int           // messages trained
	TestHam, TestSpam   int           // messages in the test half
	Duplicates          int           // messages skipped as byte-identical to one already seen
	Unreadable          int           // paths that could not be read
	TrainTime           time.Duration // reading and training
	Total               time.Duration
	Engines             []EngineReport
}

// EngineReport is one engine's results on the test half (or its sample).
type EngineReport struct {
	Engine         string
	Ham, Spam      int     // messages scored (errors excluded)
	TP, FP, TN, FN int     // spam caught, ham flagged, ham passed, spam missed
	Errors         int     // calls that failed (not counted above)
	Precision      float64 // TP / (TP + FP)
	Recall         float64 // TP / (TP + FN)
	FPRate         float64 // FP / (FP + TN): share of ham called spam
	MeanMS         float64 // mean time per message
	Groups         []GroupReport
	Sweep          []SweepPoint // built-in classifier only
	FalsePositives []string     // paths of ham called spam (at most MaxListed)
	FalseNegatives int
	FirstError     string
}

// GroupReport is one dataset's share of an engine's results.
type GroupReport struct {
	Group   string
	Spam    bool // the label of the dataset's messages
	N       int  // messages scored
	Flagged int  // called spam
}

// SweepPoint is the built-in classifier at another threshold.
type SweepPoint struct {
	Threshold float64
	FP, TP    int
	FPRate    float64
	Recall    float64
}

// sample is one test message.
type sample struct {
	path string
	spam bool
	sum  [32]byte
	data []byte
}

// Evaluate measures the built-in classifier and opts.External on labelled
// messages. Paths are files, or members of a .tar.zst archive written
// "ARCHIVE#MEMBER" (as CorpusFiles lists them). Each message goes to the
// training half or the test half by the first bit of its SHA-256 (so the
// split is deterministic and byte-identical messages, which are counted
// once, fall in the same half); a fresh Bayes model is trained on the
// training half, then every engine scores the test half with bounded
// parallelism. Metrics are computed from each engine's own decision
// (Result.Spam).
func Evaluate(ctx context.Context, hamFiles, spamFiles []string, opts EvalOptions) (*Report, error) {
	start := time.Now()
	par := opts.Parallel
	if par <= 0 {
		par = 2
	}
	group := opts.Group
	if group == nil {
		group = DatasetOf
	}
	maxListed := opts.MaxListed
	if maxListed <= 0 {
		maxListed = 20
	}
	rep := &Report{}
	bayes := NewBayes(opts.Bayes)

	// Pass 1: read, deduplicate, split, train.
	type item struct {
		path string
		spam bool
		data []byte
	}
	items := make(chan item, 2*par)
	var (
		mu   sync.Mutex
		seen = make(map[[32]byte]bool)
		test []sample
		wg   sync.WaitGroup
	)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				sum := sha256.Sum256(it.data)
				mu.Lock()
				dup := seen[sum]
				seen[sum] = true
				if dup {
					rep.Duplicates++
				}
				mu.Unlock()
				if dup {
					continue
				}
				data := it.data
				if opts.Sanitize != nil {
					data = opts.Sanitize(data)
				}
				if sum[0]&1 == 0 {
					bayes.TrainTokens(Tokenize(data, Hints{}), it.spam)
					mu.Lock()
					if it.spam {
						rep.TrainSpam++
					} else {
						rep.TrainHam++
					}
					mu.Unlock()
					continue
				}
				mu.Lock()
				test = append(test, sample{path: it.path, spam: it.spam, sum: sum, data: data})
				mu.Unlock()
			}
		}()
	}
	var readErr error
	for _, set := range []struct {
		paths []string
		spam  bool
	}{{hamFiles, false}, {spamFiles, true}} {
		err := forEachMessage(ctx, set.paths, func(path string, data []byte, err error) error {
			if err != nil {
				mu.Lock()
				rep.Unreadable++
				mu.Unlock()
				return nil
			}
			select {
			case items <- item{path, set.spam, data}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil {
			readErr = err
			break
		}
	}
	close(items)
	wg.Wait()
	if readErr != nil {
		return nil, readErr
	}
	rep.TrainTime = time.Since(start)
	sort.Slice(test, func(i, j int) bool { return string(test[i].sum[:]) < string(test[j].sum[:]) })
	for _, s := range test {
		if s.spam {
			rep.TestSpam++
		} else {
			rep.TestHam++
		}
	}

	// Which test messages the external engines see.
	external := make([]bool, len(test))
	nHam, nSpam := 0, 0
	for i, s := range test {
		n := &nHam
		if s.spam {
			n = &nSpam
		}
		if opts.ExternalSample <= 0 || *n < opts.ExternalSample {
			external[i] = true
			*n++
		}
	}

	// Pass 2: score.
	engines := append([]Classifier{bayes}, opts.External...)
	type verdict struct {
		res   Result
		err   error
		ran   bool
		clues int // built-in only
		ready bool
	}
	results := make([][]verdict, len(test)) // [message][engine]
	idx := make(chan int)
	var wg2 sync.WaitGroup
	for range par {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := range idx {
				out := make([]verdict, len(engines))
				for e, c := range engines {
					if e > 0 && !external[i] {
						continue
					}
					if e == 0 {
						start := time.Now()
						res, clues, ready := bayes.scoreTokens(Tokenize(test[i].data, Hints{}))
						res.TookMS = float64(time.Since(start).Microseconds()) / 1000
						out[e] = verdict{res: res, ran: true, clues: clues, ready: ready}
						continue
					}
					res, err := c.Score(ctx, test[i].data, Hints{})
					out[e] = verdict{res: res, err: err, ran: true}
				}
				results[i] = out
			}
		}()
	}
	for i := range test {
		if ctx.Err() != nil {
			break
		}
		idx <- i
	}
	close(idx)
	wg2.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	for e, c := range engines {
		er := EngineReport{Engine: engineName(c)}
		groups := map[string]*GroupReport{}
		var ms float64
		var sweepTP, sweepFP []int
		if e == 0 {
			sweepTP = make([]int, len(opts.Thresholds))
			sweepFP = make([]int, len(opts.Thresholds))
		}
		for i, s := range test {
			v := results[i][e]
			if !v.ran {
				continue
			}
			if v.err != nil {
				if er.Errors == 0 {
					er.FirstError = v.err.Error()
				}
				er.Errors++
				continue
			}
			ms += v.res.TookMS
			g := group(s.path)
			key := fmt.Sprint(g, "\x00", s.spam)
			gr := groups[key]
			if gr == nil {
				gr = &GroupReport{Group: g, Spam: s.spam}
				groups[key] = gr
			}
			gr.N++
			if v.res.Spam {
				gr.Flagged++
			}
			switch {
			case s.spam && v.res.Spam:
				er.TP++
			case s.spam:
				er.FN++
			case v.res.Spam:
				er.FP++
				if len(er.FalsePositives) < maxListed {
					er.FalsePositives = append(er.FalsePositives, s.path)
				}
			default:
				er.TN++
			}
			for k, th := range opts.Thresholds {
				if e != 0 {
					break
				}
				flagged := v.ready && v.clues >= bayes.opts.MinClues && v.res.Score >= th
				if flagged && s.spam {
					sweepTP[k]++
				} else if flagged {
					sweepFP[k]++
				}
			}
		}
		er.Ham, er.Spam = er.TN+er.FP, er.TP+er.FN
		er.FalseNegatives = er.FN
		er.Precision = ratio(er.TP, er.TP+er.FP)
		er.Recall = ratio(er.TP, er.Spam)
		er.FPRate = ratio(er.FP, er.Ham)
		er.MeanMS = ms / float64(max(1, er.Ham+er.Spam))
		for k, th := range opts.Thresholds {
			if e != 0 {
				break
			}
			er.Sweep = append(er.Sweep, SweepPoint{Threshold: th, FP: sweepFP[k], TP: sweepTP[k],
				FPRate: ratio(sweepFP[k], er.Ham), Recall: ratio(sweepTP[k], er.Spam)})
		}
		for _, g := range groups {
			er.Groups = append(er.Groups, *g)
		}
		sort.Slice(er.Groups, func(i, j int) bool {
			if er.Groups[i].Spam != er.Groups[j].Spam {
				return !er.Groups[i].Spam
			}
			return er.Groups[i].Group < er.Groups[j].Group
		})
		rep.Engines = append(rep.Engines, er)
	}
	rep.Total = time.Since(start)
	return rep, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func engineName(c Classifier) string {
	switch c := c.(type) {
	case *Bayes:
		return "bayes"
	case *Rspamd:
		return rspamdEngine
	case *Spamd:
		return spamdEngine
	default:
		return fmt.Sprintf("%T", c)
	}
}

// DatasetOf names the dataset of a corpus path: the archive's name for an
// archive member, else the directory under real/ or torture/ (with its
// subdirectory for the SpamAssassin fixtures: "spamassassin-t-data/spam").
func DatasetOf(path string) string {
	if arch, _, ok := strings.Cut(path, "#"); ok {
		return strings.TrimSuffix(filepath.Base(arch), ".tar.zst")
	}
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i, p := range parts {
		if (p == "real" || p == "torture") && i+1 < len(parts)-1 {
			d := parts[i+1]
			if d == "spamassassin-t-data" && i+2 < len(parts)-1 {
				d += "/" + parts[i+2]
			}
			if d == "linux-mips" && i+2 < len(parts)-1 {
				d += "/" + parts[i+2]
			}
			return d
		}
	}
	return filepath.Base(filepath.Dir(path))
}

// forEachMessage calls fn with the content of every path, in order for plain
// files, then per archive (each archive is read once, in its own order). A
// path that cannot be read is passed with its error; fn's error stops the
// walk.
func forEachMessage(ctx context.Context, paths []string, fn func(path string, data []byte, err error) error) error {
	members := map[string]map[string]bool{} // archive -> wanted members
	var archives []string
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if arch, member, ok := strings.Cut(p, "#"); ok {
			if members[arch] == nil {
				members[arch] = map[string]bool{}
				archives = append(archives, arch)
			}
			members[arch][member] = true
			continue
		}
		data, err := os.ReadFile(p)
		if err := fn(p, data, err); err != nil {
			return err
		}
	}
	for _, arch := range archives {
		want := members[arch]
		err := walkTarZst(arch, func(name string, r io.Reader) error {
			if !want[name] {
				return nil
			}
			delete(want, name)
			data, err := io.ReadAll(io.LimitReader(r, 64<<20))
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fn(arch+"#"+name, data, err)
		})
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			var cbErr *callbackError
			if errors.As(err, &cbErr) {
				return cbErr.err
			}
		}
		for name := range want { // missing members, or the archive is unreadable
			if ferr := fn(arch+"#"+name, nil, fmt.Errorf("not read from %s: %v", arch, err)); ferr != nil {
				return ferr
			}
		}
	}
	return nil
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// walkTarZst calls fn for every regular file of a .tar.zst archive.
func walkTarZst(path string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
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
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(h.Name, tr); err != nil {
			return &callbackError{err}
		}
	}
}

// CorpusFiles lists the labelled messages of the shared test corpus in dir
// (see its README): ham is the mailing-list archives (real/linux-mips sample
// and bulk archive, real/open-iscsi-googlegroups) and SpamAssassin's "nice"
// fixtures; spam is real/osst-users-spam (a dormant list that receives only
// spam and backscatter), the phishing-pot archive and SpamAssassin's spam
// fixtures. Archive members are listed as "ARCHIVE#MEMBER"; the phishing
// archive may hold live malware and is only ever read into memory.
func CorpusFiles(dir string) (ham, spam []string, err error) {
	add := func(list *[]string, rel string, recursive bool) error {
		root := filepath.Join(dir, rel)
		if strings.HasSuffix(rel, ".tar.zst") {
			return walkTarZst(root, func(name string, _ io.Reader) error {
				if strings.HasSuffix(name, ".eml") {
					*list = append(*list, root+"#"+name)
				}
				return nil
			})
		}
		return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			name := d.Name()
			if strings.HasSuffix(name, ".tsv") || strings.HasSuffix(name, ".md") || strings.HasSuffix(name, ".mbox") ||
				strings.HasPrefix(name, ".") {
				return nil
			}
			*list = append(*list, p)
			return nil
		})
	}
	steps := []struct {
		list      *[]string
		rel       string
		recursive bool
	}{
		{&ham, "real/linux-mips/sample", false},
		{&ham, "real/linux-mips/linux-mips-bulk.tar.zst", false},
		{&ham, "real/open-iscsi-googlegroups", false},
		{&ham, "torture/spamassassin-t-data/nice", true},
		{&spam, "real/osst-users-spam", false},
		{&spam, "real/phishing-pot/phishing-pot-sample.tar.zst", false},
		{&spam, "torture/spamassassin-t-data/spam", true},
	}
	for _, s := range steps {
		if err := add(s.list, s.rel, s.recursive); err != nil {
			return nil, nil, fmt.Errorf("corpus %s: %w", s.rel, err)
		}
	}
	return ham, spam, nil
}

// FormatReport renders a report as Markdown tables (engines, per-dataset
// breakdown, threshold sweep).
func FormatReport(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "train: %d ham + %d spam; test: %d ham + %d spam; duplicates skipped: %d; unreadable: %d\n",
		r.TrainHam, r.TrainSpam, r.TestHam, r.TestSpam, r.Duplicates, r.Unreadable)
	fmt.Fprintf(&b, "reading + training: %v; total: %v\n\n", r.TrainTime.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	b.WriteString("| engine | ham | spam | FP | FP rate | recall | precision | errors | ms/msg |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, e := range r.Engines {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.3f %% | %.1f %% | %.2f %% | %d | %.1f |\n",
			e.Engine, e.Ham, e.Spam, e.FP, 100*e.FPRate, 100*e.Recall, 100*e.Precision, e.Errors, e.MeanMS)
	}
	b.WriteString("\n| engine | dataset | label | messages | called spam |\n|---|---|---|---:|---:|\n")
	for _, e := range r.Engines {
		for _, g := range e.Groups {
			label := "ham"
			if g.Spam {
				label = "spam"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %d (%.1f %%) |\n", e.Engine, g.Group, label, g.N, g.Flagged,
				100*ratio(g.Flagged, g.N))
		}
	}
	for _, e := range r.Engines {
		if len(e.Sweep) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s threshold sweep:\n\n| threshold | FP | FP rate | recall |\n|---:|---:|---:|---:|\n", e.Engine)
		for _, s := range e.Sweep {
			fmt.Fprintf(&b, "| %g | %d | %.3f %% | %.1f %% |\n", s.Threshold, s.FP, 100*s.FPRate, 100*s.Recall)
		}
	}
	for _, e := range r.Engines {
		if len(e.FalsePositives) > 0 {
			fmt.Fprintf(&b, "\n%s false positives: %s\n", e.Engine, strings.Join(e.FalsePositives, ", "))
		}
		if e.FirstError != "" {
			fmt.Fprintf(&b, "\n%s first error: %s\n", e.Engine, e.FirstError)
		}
	}
	return b.String()
}
