package message

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// FuzzParse checks that Parse holds its promises on any input: no panic, a
// non-nil Message with Size == len(raw), every part inside raw and decoding
// to the size and hash Parse recorded, valid UTF-8 in every string (the
// archive serializes them), whether limits are default or tiny.
func FuzzParse(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range fixtures {
		if raw, err := os.ReadFile(name); err == nil {
			f.Add(raw)
		}
	}
	if corpus := corpustest.Find(); corpus != "" {
		// A sample of the corpus: every 10th file of 64 KiB or less.
		i := 0
		_ = filepath.WalkDir(filepath.Join(corpus, "torture"), func(path string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() || skipCorpusFile(e.Name()) {
				return nil
			}
			if i++; i%10 != 0 {
				return nil
			}
			if info, err := e.Info(); err == nil && info.Size() <= 64<<10 {
				if raw, err := os.ReadFile(path); err == nil {
					f.Add(raw)
				}
			}
			return nil
		})
	}
	f.Add([]byte("From: a@x.mx\r\n\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\n--a--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, lim := range []Limits{{}, {MaxHeaderBytes: 64, MaxHeaderFields: 3, MaxDepth: 2, MaxParts: 4}} {
			m := Parse(raw, lim)
			checkInvariants(t, "fuzz", raw, m)
			checkUTF8(t, m)
			if _, err := json.Marshal(m); err != nil {
				t.Errorf("marshal: %v", err)
			}
		}
	})
}

func checkUTF8(t *testing.T, m *Message) {
	t.Helper()
	strs := []string{m.MessageID, m.DateRaw, m.Subject}
	for _, l := range [][]Address{m.From, m.Sender, m.ReplyTo, m.To, m.Cc, m.Bcc} {
		for _, a := range l {
			strs = append(strs, a.Name, a.Address)
		}
	}
	strs = append(strs, m.InReplyTo...)
	strs = append(strs, m.References...)
	for _, p := range m.Parts {
		strs = append(strs, p.Path, p.ContentType, p.Charset, p.Disposition, p.Filename, p.ContentID, p.Encoding)
	}
	for _, d := range m.Defects {
		strs = append(strs, d.Code, d.Part, d.Detail)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 in %q", s)
		}
		if strings.IndexByte(s, 0) >= 0 {
			t.Errorf("NUL in %q", s)
		}
	}
}
