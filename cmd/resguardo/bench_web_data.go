package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
)

// benchWebData returns the data directory to measure: --data's, checked, or a
// scratch one with n real messages of the corpus imported (and indexed) by the
// import command, run as self. cleanup, never nil, removes a temporary scratch
// directory.
func benchWebData(m *Main, rep *benchWebReport, say func(string, ...any), self string, dataGiven bool, corpus, work string, n int) (data string, cleanup func(), err error) {
	cleanup = func() {}
	data = m.DataDir
	if dataGiven {
		if _, err := os.Stat(archive.Layout{Dir: data}.Catalog()); err != nil {
			return "", cleanup, &exitError{code: 2, err: fmt.Errorf("bench web: --data %s: not a data directory (%v)", data, err)}
		}
		return data, cleanup, nil
	}
	if corpus == "" {
		corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
	}
	if corpus == "" {
		return "", cleanup, &exitError{code: 2, err: errors.New("bench web: the shared corpus was not found: give --corpus DIR, set RESGUARDO_CORPUS, or --data DIR")}
	}
	scratch := work
	if scratch == "" {
		if scratch, err = os.MkdirTemp("", "resguardo-bench-web-"); err != nil {
			return "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(scratch) }
	} else if err := os.MkdirAll(scratch, 0o755); err != nil {
		return "", cleanup, err
	}
	maildir := filepath.Join(scratch, "mail")
	got, err := benchWebMaildir(corpus, scratch, maildir, n)
	if err != nil {
		return "", cleanup, err
	}
	data = filepath.Join(scratch, "data")
	if err := os.RemoveAll(data); err != nil {
		return "", cleanup, err
	}
	say("importing %d messages into %s", got, data)
	t0 := time.Now()
	c := exec.Command(self, "import", "--data", data, "--progress", "never", "--json", maildir)
	c.Env = append(os.Environ(), "RESGUARDO_LANG=en")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	var sum importSummary
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &sum); jerr != nil || (err != nil && sum.Failed == 0) {
		return "", cleanup, fmt.Errorf("bench web: import: %v %v\n%s", err, jerr, stderr.String())
	}
	rep.Imported, rep.ImportSeconds = true, time.Since(t0).Seconds()
	say("imported and indexed in %.1fs (%d archived, %d malformed)", rep.ImportSeconds, sum.Archived, sum.Malformed)
	m.DataDir = data
	return data, cleanup, nil
}

// benchWebMaildir links n real messages of the corpus into maildir, spread
// evenly over every set (the packed sets are unpacked only when the loose
// files are too few).
func benchWebMaildir(corpus, scratch, maildir string, n int) (int, error) {
	collect := func(root string) []string {
		files, _, _ := listInputFiles([]string{root})
		var out []string
		for _, f := range files {
			if strings.HasSuffix(f, ".eml") {
				out = append(out, f)
			}
		}
		return out
	}
	files := collect(filepath.Join(corpus, "real"))
	if len(files) < n {
		unpacked := filepath.Join(scratch, "unpacked")
		if err := extractPacks(corpus, unpacked); err != nil {
			return 0, err
		}
		files = append(files, collect(filepath.Join(unpacked, "real"))...)
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no real messages under %s", corpus)
	}
	sort.Strings(files)
	pick := files
	if len(files) > n {
		pick = make([]string, 0, n)
		for i := 0; i < n; i++ {
			pick = append(pick, files[i*len(files)/n])
		}
	}
	if err := os.RemoveAll(maildir); err != nil {
		return 0, err
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o755); err != nil {
			return 0, err
		}
	}
	for i, f := range pick {
		if err := linkOrCopy(f, filepath.Join(maildir, "cur", fmt.Sprintf("%06d.eml:2,S", i+1))); err != nil {
			return 0, err
		}
	}
	return len(pick), nil
}
