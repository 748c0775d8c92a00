package message

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestScratchStats(t *testing.T) {
	dir := os.Getenv("DIR")
	if dir == "" {
		t.Skip()
	}
	codes := map[string]int{}
	ex := map[string][]string{}
	n, clean, complete := 0, 0, 0
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if info.IsDir() || strings.HasSuffix(path, ".tsv") {
			return nil
		}
		raw, _ := os.ReadFile(path)
		m := Parse(raw, Limits{})
		checkInvariants(t, path, raw, m)
		n++
		if !m.Malformed() {
			clean++
		}
		if len(m.From) > 0 && m.From[0].Address != "" && !m.Date.IsZero() && m.MessageID != "" && !m.Malformed() {
			complete++
		}
		seen := map[string]bool{}
		for _, d := range m.Defects {
			if !seen[d.Code] {
				seen[d.Code] = true
				codes[d.Code]++
				if len(ex[d.Code]) < 4 {
					ex[d.Code] = append(ex[d.Code], fmt.Sprintf("%s[%s]%q", filepath.Base(path), d.Part, d.Detail))
				}
			}
		}
		return nil
	})
	fmt.Printf("%d msgs, clean %.2f%%, complete %.2f%%\n", n, 100*float64(clean)/float64(n), 100*float64(complete)/float64(n))
	var ks []string
	for k := range codes {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return codes[ks[i]] > codes[ks[j]] })
	for _, k := range ks {
		fmt.Printf("  %-26s %5d  %s\n", k, codes[k], strings.Join(ex[k], " "))
	}
}

func TestScratchMissing(t *testing.T) {
	dir := os.Getenv("DIR")
	if dir == "" {
		t.Skip()
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if info.IsDir() || skipCorpusFile(info.Name()) {
			return nil
		}
		raw, _ := os.ReadFile(path)
		m := Parse(raw, Limits{})
		s := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\r", "\n")
		hdr, _, _ := strings.Cut(s, "\n\n")
		hdr = "\n" + strings.ToLower(hdr)
		for _, d := range m.Defects {
			if d.Part != "" {
				continue
			}
			if d.Code == "missing-date" && strings.Contains(hdr, "\ndate:") || d.Code == "missing-from" && strings.Contains(hdr, "\nfrom:") {
				fmt.Println(path, d.Code)
			}
		}
		return nil
	})
}
