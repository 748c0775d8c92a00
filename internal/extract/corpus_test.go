package extract

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/klauspost/compress/zstd"

	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/message"
)

// eachCorpusMessage calls fn with every message of the corpus sets under
// dirs, those packed in .tar.zst included (read in memory, never unpacked).
func eachCorpusMessage(t *testing.T, corpus string, dirs []string, fn func(name string, raw []byte)) {
	t.Helper()
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(corpus, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(corpus, path)
			name := e.Name()
			switch {
			case strings.HasSuffix(name, ".tar.zst"):
				return eachTarZst(path, func(member string, raw []byte) { fn(rel+":"+member, raw) })
			case strings.HasSuffix(name, ".tsv"), strings.HasPrefix(name, "README"), strings.HasPrefix(name, "LICENSE"):
				return nil
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fn(rel, raw)
			return nil
		})
		if err != nil {
			t.Fatalf("walk corpus %s: %v", d, err)
		}
	}
}

func eachTarZst(path string, fn func(string, []byte)) error {
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
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || !strings.HasSuffix(h.Name, ".eml") {
			continue
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		fn(h.Name, raw)
	}
}

// corpusAttachment is one attachment of the corpus and its extraction.
type corpusAttachment struct {
	name, path, filename, ct string
	data                     []byte
	res                      Result
}

// TestCorpusAttachments extracts every attachment of the shared corpus
// (PDF, Office, OpenDocument, RTF, HTML, CSV and the rest) and every
// unpacked message as a whole: nothing panics or runs long, supported
// real files give sensible text, and the counts per kind are reported.
func TestCorpusAttachments(t *testing.T) {
	corpus := corpustest.Dir(t)
	var atts []corpusAttachment
	messages, msgText := 0, 0
	eachCorpusMessage(t, corpus, []string{"real", "torture"}, func(name string, raw []byte) {
		if !strings.Contains(name, ".tar.zst:") {
			messages++
			res := Text(context.Background(), raw, "message/rfc822", "", Limits{})
			checkText(t, res.Text, DefaultMaxText)
			if res.Text != "" {
				msgText++
			}
			if res.Err != nil && strings.Contains(res.Err.Error(), "internal error") {
				t.Errorf("%s: %v", name, res.Err)
			}
		}
		m := message.Parse(raw, message.Limits{})
		for _, p := range m.Parts {
			if !p.Attachment || p.ContentType == "message/rfc822" {
				continue
			}
			data, err := message.DecodePart(raw, p)
			if err != nil {
				t.Fatal(err)
			}
			res := Text(context.Background(), data, p.ContentType, p.Filename, Limits{})
			checkText(t, res.Text, DefaultMaxText)
			if res.Err != nil && strings.Contains(res.Err.Error(), "internal error") {
				t.Errorf("%s part %s: %v", name, p.Path, res.Err)
			}
			atts = append(atts, corpusAttachment{name, p.Path, p.Filename, p.ContentType, data, res})
		}
	})
	t.Logf("%d unpacked messages, %d with text", messages, msgText)
	if messages < 4000 || msgText*100 < messages*95 {
		t.Errorf("%d messages, %d with text: want the whole corpus, nearly all with text", messages, msgText)
	}

	type count struct{ n, text, errs int }
	kinds := map[string]*count{}
	for _, a := range atts {
		c := kinds[a.res.Kind]
		if c == nil {
			c = &count{}
			kinds[a.res.Kind] = c
		}
		c.n++
		if a.res.Text != "" {
			c.text++
		}
		if a.res.Err != nil {
			c.errs++
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range kinds {
			if !yield(k) {
				return
			}
		}
	}) {
		c := kinds[k]
		t.Logf("attachments %-12s %4d, %4d with text, %4d with an error", k, c.n, c.text, c.errs)
	}
	// The office and PDF attachments with text, measured when written: a
	// regression shows here first.
	for kind, min := range map[string]int{"pdf": 17, "docx": 5, "xlsx": 6, "pptx": 1, "odt": 1, "ods": 1, "odp": 1, "rtf": 3, "html": 10, "csv": 2} {
		if c := kinds[kind]; c == nil || c.text < min {
			t.Errorf("%s attachments with text: %v, want at least %d", kind, c, min)
		}
	}

	// Specific real files and what they must say.
	for _, w := range []struct{ name, filename, kind, has string }{
		{"real/open-iscsi-googlegroups/000167.eml", "Open-iSCSI-research paper.pdf", "pdf", "Design and Implementation of"},
		{"real/linux-mips/linux-mips-bulk.tar.zst:linux-mips-bulk/065552.eml", "COMPENSATION FUND PAYMENT APPROVED.pdf", "pdf", "Reserve Bank Building"},
		{"real/phishing-pot/phishing-pot-sample.tar.zst:phishing-pot-sample/sample-3278.eml", "Fatura.pdf", "pdf", "Núcleo de Informação e Coordenação"},
		{"real/phishing-pot/phishing-pot-sample.tar.zst:phishing-pot-sample/sample-6985.eml", "PROJETO..pdf", "pdf", "Permita-me informá-lo"},
		{"real/phishing-pot/phishing-pot-sample.tar.zst:phishing-pot-sample/sample-5339.eml", "INVTRXID351627453.docx", "docx", "Renewal Confirmation"},
		{"real/osst-users-spam/001101.eml", "2023年第1季度个人劳动补贴通知.docx", "docx", "个人劳动补贴"},
		{"torture/flanker/attached-pdf.eml", "test.pdf", "pdf", "Test."},
		{"torture/spamassassin-t-data/spam/extracttext/gtube_pdf.eml", "gtube.pdf", "pdf", "Generic\nTest for\nUnsolicited"},
		{"torture/spamassassin-t-data/nice/004", "Jurek - Poprawiona Homilia XII na List to Kolosan.rtf", "rtf", "Tekst grecki został wydany"},
		{"torture/spamassassin-t-data/spam/olevbmacro/nomacro.eml", "nomacro.xlsx", "xlsx", "Foglio1"},
		{"torture/spamassassin-t-data/spam/olevbmacro/target_uri.eml", "uridoc.docx", "docx", "https://spamassassin.apache.org/"},
		{"torture/rspamd/numeric_urls.eml", "lamecontent.pdf", "pdf", "Two lame URLs:"},
		{"torture/rspamd/pdf_encrypted.eml", "990777.pdf", "pdf", ""}, // needs a user password
	} {
		i := slices.IndexFunc(atts, func(a corpusAttachment) bool { return a.name == w.name && a.filename == w.filename })
		if i < 0 {
			t.Errorf("%s: attachment %q not found", w.name, w.filename)
			continue
		}
		a := atts[i]
		if a.res.Kind != w.kind || !strings.Contains(a.res.Text, w.has) || (w.has == "") != (a.res.Err != nil) {
			t.Errorf("%s %q: kind %q err %v text %.200q; want %s with %q", w.name, w.filename, a.res.Kind, a.res.Err, a.res.Text, w.kind, w.has)
		}
	}
	comparePDFToText(t, atts)
}

// comparePDFToText checks the PDF text against poppler's pdftotext, when
// installed: most words pdftotext finds must be found here too.
func comparePDFToText(t *testing.T, atts []corpusAttachment) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Log("pdftotext not installed: no cross-check")
		return
	}
	dir := t.TempDir()
	words := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if len([]rune(w)) >= 4 {
				m[strings.ToLower(w)] = true
			}
		}
		return m
	}
	compared := 0
	for i, a := range atts {
		if a.res.Kind != "pdf" || a.res.Err != nil {
			continue
		}
		in := filepath.Join(dir, "in.pdf")
		if err := os.WriteFile(in, a.data, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-q", "-enc", "UTF-8", in, "-").Output()
		if err != nil {
			continue
		}
		ref, got := words(string(out)), words(a.res.Text)
		found := 0
		for w := range ref {
			if got[w] {
				found++
			}
		}
		compared++
		if len(ref) > 0 && found*100 < len(ref)*90 {
			t.Errorf("%s %q (#%d): %d of pdftotext's %d words found", a.name, a.filename, i, found, len(ref))
		}
	}
	t.Logf("%d PDFs compared with pdftotext", compared)
}
