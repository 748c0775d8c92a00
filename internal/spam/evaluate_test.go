package spam

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/spam/spamtest"
)

func TestCorpusSanitize(t *testing.T) {
	in := "Return-Path: <list-bounces@lists.example.net>\r\n" +
		"Received: from a by b\r\n" +
		"To: list@lists.example.net,\r\n other@example.org\r\n" +
		"Cc: x@example.com\r\n" +
		"Subject: Re: [Osst-users] [SPAM] Factura pendiente\r\n" +
		"X-Spam-Score: 8.6 (++++++++)\r\n" +
		"X-Spam-Report: Spam Filtering performed by mx.\r\n 1.0 HTML_MESSAGE BODY\r\n" +
		"List-Id: <list.lists.example.net>\r\n" +
		"Content-Type: text/plain\r\n\r\n" +
		"Pague aqui.\r\n_______________________________________________\r\nOsst-users mailing list\r\n" +
		"Osst-users@lists.sourceforge.net\r\nhttps://lists.sourceforge.net/lists/listinfo/osst-users\r\n"
	want := "Received: from a by b\r\n" +
		"To: recipient@corpus.invalid\r\n" +
		"Subject: Re: Factura pendiente\r\n" +
		"Content-Type: text/plain\r\n\r\n" +
		"Pague aqui.\r\n"
	if got := string(CorpusSanitize([]byte(in))); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	for _, s := range []string{"", "no header end", "Subject: [x]\n\n", "\n\n"} {
		CorpusSanitize([]byte(s))
	}
}

// writeTarZst packs files (name -> content) into a .tar.zst.
func writeTarZst(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEvaluateMachinery runs Evaluate on synthetic messages, part of them in
// a .tar.zst, with a fake external engine.
func TestEvaluateMachinery(t *testing.T) {
	dir := t.TempDir()
	var ham, spam []string
	members := map[string][]byte{}
	for i := 0; i < 300; i++ {
		if i%3 == 0 {
			name := fmt.Sprintf("spam-%03d.eml", i)
			members[name] = synthetic(true, i)
			spam = append(spam, filepath.Join(dir, "spam.tar.zst")+"#"+name)
		} else {
			p := filepath.Join(dir, fmt.Sprintf("spam-%03d.eml", i))
			os.WriteFile(p, synthetic(true, i), 0o644)
			spam = append(spam, p)
		}
		p := filepath.Join(dir, fmt.Sprintf("ham-%03d.eml", i))
		os.WriteFile(p, synthetic(false, i), 0o644)
		ham = append(ham, p)
	}
	writeTarZst(t, filepath.Join(dir, "spam.tar.zst"), members)
	ham = append(ham, ham[0], filepath.Join(dir, "missing.eml")) // a duplicate and an unreadable path

	ext := &fakeEngine{}
	rep, err := Evaluate(context.Background(), ham, spam, EvalOptions{
		Bayes: BayesOptions{MinHam: 50, MinSpam: 50}, External: []Classifier{ext},
		ExternalSample: 20, Thresholds: []float64{0.5, 0.999},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrainHam+rep.TestHam != 300 || rep.TrainSpam+rep.TestSpam != 300 || rep.Duplicates != 1 || rep.Unreadable != 1 {
		t.Fatalf("counts: %+v", rep)
	}
	if rep.TrainHam < 100 || rep.TestHam < 100 {
		t.Errorf("split not about half: %+v", rep)
	}
	b := rep.Engines[0]
	if b.Engine != "bayes" || b.Ham != rep.TestHam || b.Spam != rep.TestSpam || b.FPRate != 0 || b.Recall < 0.95 || len(b.Sweep) != 2 {
		t.Errorf("bayes: %+v", b)
	}
	e := rep.Engines[1]
	if e.Ham+e.Errors > 20 || e.Spam > 20 || e.TP != e.Spam || e.FP != e.Ham || e.Errors == 0 {
		t.Errorf("external: %+v", e)
	}
	if len(b.Groups) == 0 {
		t.Errorf("no groups: %+v", b)
	}
	t.Logf("%s", FormatReport(rep))
}

// fakeEngine calls everything spam and fails on some ham.
type fakeEngine struct{}

func (f *fakeEngine) Score(ctx context.Context, msg []byte, _ Hints) (Result, error) {
	if bytes.Contains(msg, []byte("Oficio 1")) {
		return Result{}, fmt.Errorf("fake failure")
	}
	return Result{Engine: "fake", Spam: true, Score: 1, Threshold: 1}, nil
}

func TestDatasetOf(t *testing.T) {
	for in, want := range map[string]string{
		"/c/real/osst-users-spam/000001.eml":                               "osst-users-spam",
		"/c/real/phishing-pot/phishing-pot-sample.tar.zst#x/sample-1.eml":  "phishing-pot-sample",
		"/c/torture/spamassassin-t-data/spam/dmarc/x.eml":                  "spamassassin-t-data/spam",
		"/c/real/linux-mips/sample/000001.eml":                             "linux-mips/sample",
		"/c/real/linux-mips/linux-mips-bulk.tar.zst#linux-mips-bulk/1.eml": "linux-mips-bulk",
	} {
		if got := DatasetOf(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

// TestEvaluateCorpus is the measurement of docs/QUALITY.md. It is slow and
// runs only when RESGUARDO_SPAM_EVAL is set: "1" for the built-in classifier
// alone, "all" to include SpamAssassin and rspamd on a sample of
// RESGUARDO_SPAM_EVAL_SAMPLE (default 1000) test messages per class.
// RESGUARDO_SPAM_EVAL_OUT names a file for the JSON report.
func TestEvaluateCorpus(t *testing.T) {
	mode := os.Getenv("RESGUARDO_SPAM_EVAL")
	if mode == "" {
		// Not a skip: nothing is missing, the measurement is opt-in.
		t.Log("set RESGUARDO_SPAM_EVAL=1 (or all) to evaluate on the shared corpus")
		return
	}
	dir := corpustest.Dir(t)
	start := time.Now()
	ham, spam, err := CorpusFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("corpus: %d ham, %d spam paths listed in %v", len(ham), len(spam), time.Since(start).Round(time.Millisecond))
	opts := EvalOptions{Sanitize: CorpusSanitize, Thresholds: []float64{0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999}}
	if os.Getenv("RESGUARDO_SPAM_EVAL_RAW") != "" {
		opts.Sanitize = nil
	}
	if mode == "all" {
		opts.External = []Classifier{
			&Spamd{Addr: spamtest.StartSpamd(t), Timeout: 60 * time.Second},
			&Rspamd{URL: spamtest.StartRspamd(t), Timeout: 60 * time.Second},
		}
		opts.ExternalSample = 1000
		if n, err := strconv.Atoi(os.Getenv("RESGUARDO_SPAM_EVAL_SAMPLE")); err == nil {
			opts.ExternalSample = n
		}
	}
	rep, err := Evaluate(context.Background(), ham, spam, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", FormatReport(rep))
	if out := os.Getenv("RESGUARDO_SPAM_EVAL_OUT"); out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		os.WriteFile(out, b, 0o644)
	}
	if !strings.Contains(FormatReport(rep), "bayes") {
		t.Error("no bayes line")
	}
}

// TestCorpusQuality runs in every test run (CI included): the built-in
// classifier, trained on half of the shared corpus, keeps its false-positive
// rate on the other half's ham within the target (≤ 0.1 %) with a recall
// floor, and the real spamd and rspamd score a small sample of the same real
// messages (the spam and phishing sets and the mailing-list ham) without
// errors. docs/QUALITY.md has the full comparison (TestEvaluateCorpus).
func TestCorpusQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	dir := corpustest.Dir(t)
	ham, sp, err := CorpusFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := EvalOptions{Sanitize: CorpusSanitize, ExternalSample: 12, External: []Classifier{
		&Spamd{Addr: spamtest.StartSpamd(t), Timeout: 60 * time.Second},
		&Rspamd{URL: spamtest.StartRspamd(t), Timeout: 60 * time.Second},
	}}
	rep, err := Evaluate(context.Background(), ham, sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", FormatReport(rep))
	seen := map[string]bool{}
	for _, e := range rep.Engines {
		seen[e.Engine] = true
		if e.Errors > 1 { // spamd refuses one message above its 512 KiB limit in some samples
			t.Errorf("%s: %d errors (first: %s)", e.Engine, e.Errors, e.FirstError)
		}
		if e.Engine == "bayes" {
			if e.FPRate > 0.001 {
				t.Errorf("built-in false-positive rate %.3f %% > 0.1 %%", 100*e.FPRate)
			}
			if e.Recall < 0.5 {
				t.Errorf("built-in recall %.1f %% < 50 %%", 100*e.Recall)
			}
		} else if e.Ham+e.Spam < 20 {
			t.Errorf("%s scored only %d messages", e.Engine, e.Ham+e.Spam)
		}
	}
	if !seen["bayes"] || !seen["spamassassin"] || !seen["rspamd"] {
		t.Errorf("engines in the report: %v", seen)
	}
}
