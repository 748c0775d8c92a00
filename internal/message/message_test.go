package message

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/corpustest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden is what a golden file holds: the JSON of the Message plus the part
// fields that Part does not serialize.
type golden struct {
	Message *Message     `json:"message"`
	Layout  []partLayout `json:"layout"`
}

type partLayout struct {
	Path       string `json:"path"`
	Attachment bool   `json:"attachment"`
	BodyOffset int64  `json:"body_offset"`
	BodyLength int64  `json:"body_length"`
}

func goldenJSON(t *testing.T, m *Message) []byte {
	t.Helper()
	g := golden{Message: m}
	for _, p := range m.Parts {
		g.Layout = append(g.Layout, partLayout{p.Path, p.Attachment, p.BodyOffset, p.BodyLength})
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return append(b, '\n')
}

// checkGolden compares the JSON of Parse(raw) with testdata/<name>.golden.
func checkGolden(t *testing.T, raw []byte, goldenPath string) *Message {
	t.Helper()
	m := Parse(raw, Limits{})
	checkInvariants(t, goldenPath, raw, m)
	got := goldenJSON(t, m)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Parse output differs from %s (run with -update after checking):\n%s", goldenPath, diffLines(string(want), string(got)))
	}
	return m
}

// diffLines shows the first differing lines, enough to see what changed.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
			n++
		}
	}
	return b.String()
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + func() string { return jsonInt(i) }())
}

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

func defectCodes(m *Message) []string {
	var out []string
	for _, d := range m.Defects {
		if !slices.Contains(out, d.Code) {
			out = append(out, d.Code)
		}
	}
	slices.Sort(out)
	return out
}

// TestFixtures parses the handwritten fixtures in testdata against their
// golden JSON and checks the facts the fixtures were written to exercise.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file    string
		defects []string // exactly these codes
		check   func(t *testing.T, m *Message)
	}{
		{
			file: "oficio-licitacion.eml",
			check: func(t *testing.T, m *Message) {
				want := Address{Name: "Lic. María Fernanda Ríos Cázares", Address: "mfrios@finanzas.edomex.gob.mx"}
				if len(m.From) != 1 || m.From[0] != want {
					t.Errorf("From = %+v, want %+v", m.From, want)
				}
				if m.Subject != "Licitación pública LPN-014/2024: aclaración de dudas" {
					t.Errorf("Subject = %q", m.Subject)
				}
				names := []string{"Ing. José Luis Peña Ávila", "Mtra. Guadalupe Ñañez Olvera", "C.P. Raúl Ibáñez"}
				if len(m.Cc) != 3 {
					t.Fatalf("Cc = %+v", m.Cc)
				}
				for i, n := range names {
					if m.Cc[i].Name != n {
						t.Errorf("Cc[%d].Name = %q, want %q", i, m.Cc[i].Name, n)
					}
				}
				if m.Cc[0].Address != "JLPena@finanzas.edomex.gob.mx" {
					t.Errorf("Cc[0].Address = %q (local part case must be kept)", m.Cc[0].Address)
				}
				if !m.Date.Equal(time.Date(2024, 6, 3, 16, 15, 42, 0, time.UTC)) {
					t.Errorf("Date = %v", m.Date)
				}
				att := m.Attachments()
				if len(att) != 1 || att[0].Filename != "Acta de sesión.pdf" || att[0].ContentType != "application/pdf" {
					t.Errorf("Attachments = %+v", att)
				}
				if m.Parts[0].Charset != "windows-1252" || m.Parts[0].Attachment {
					t.Errorf("body part = %+v", m.Parts[0])
				}
			},
		},
		{
			file: "reenvio-auditoria.eml",
			check: func(t *testing.T, m *Message) {
				var paths []string
				for _, p := range m.Parts {
					paths = append(paths, p.Path+" "+p.ContentType)
				}
				want := []string{"1.1 text/plain", "1.2.1 text/html", "1.2.2 image/png", "2 message/rfc822",
					"2.1 text/plain", "2.2 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
				if !slices.Equal(paths, want) {
					t.Errorf("parts = %q, want %q", paths, want)
				}
				if m.Subject != "RV: Oficio OIC/0457/2024: auditoría 07/2024" {
					t.Errorf("Subject = %q", m.Subject)
				}
				if m.Parts[5].Filename != "Anexo técnico.xlsx" {
					t.Errorf("nested filename = %q", m.Parts[5].Filename)
				}
				if !m.Parts[2].Attachment || m.Parts[2].ContentID != "escudo@sedeco.cdmx.gob.mx" {
					t.Errorf("inline image = %+v", m.Parts[2])
				}
				if !slices.Equal(m.References, []string{"oic-0450-2024@sedeco.cdmx.gob.mx", "oic-0457-2024@sedeco.cdmx.gob.mx"}) {
					t.Errorf("References = %q", m.References)
				}
				if m.To[0].Name != "Dirección de Obra Pública" {
					t.Errorf("To = %+v", m.To)
				}
			},
		},
		{
			file:    "turno-roto.eml",
			defects: []string{"bad-address", "bad-base64", "bad-encoded-word", "bad-header-line", "missing-date", "nul-byte", "unknown-charset", "unterminated-multipart"},
			check: func(t *testing.T, m *Message) {
				if m.Subject != "=?x-desconocido?Q?Turno_n=FAm._88?= y =?utf-8?Q?acuse=ZZ?= pendiente" {
					t.Errorf("Subject = %q (raw text must be kept)", m.Subject)
				}
				if len(m.To) != 2 || m.To[1].Address != "" {
					t.Errorf("To = %+v", m.To)
				}
			},
		},
		{
			file:    "circular-cr.eml",
			defects: nil,
			check: func(t *testing.T, m *Message) {
				if m.Subject != "Circular RH/12/24  calendario de pagos" {
					t.Errorf("Subject = %q", m.Subject)
				}
				if !m.Date.Equal(time.Date(2024, 6, 5, 13, 0, 0, 0, time.UTC)) {
					t.Errorf("Date = %v", m.Date)
				}
				if len(m.Parts) != 2 || m.Parts[1].Filename != "Calendario de pagos 2024 – nómina.xls" {
					t.Errorf("parts = %+v", m.Parts)
				}
				if m.From[0].Address != "RH@sep.gob.mx" || len(m.To) != 0 {
					t.Errorf("From = %+v To = %+v", m.From, m.To)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			m := checkGolden(t, raw, filepath.Join("testdata", strings.TrimSuffix(tc.file, ".eml")+".golden"))
			if got := defectCodes(m); !slices.Equal(got, tc.defects) {
				t.Errorf("defects = %q, want %q (%+v)", got, tc.defects, m.Defects)
			}
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// TestCorpusGolden checks hand-reviewed corpus messages against golden JSON
// (only the expected output lives in testdata; the messages stay in the
// corpus) and the defects each is known to have.
func TestCorpusGolden(t *testing.T) {
	tests := []struct {
		path    string   // relative to the corpus
		golden  string   // testdata/corpus/<golden>.golden
		defects []string // exactly these codes
	}{
		{"torture/enmime/low-quality/bad-header-wrap.raw", "enmime-bad-header-wrap", []string{"bad-header-line"}},
		{"torture/enmime/low-quality/malformed-base64-attach.raw", "enmime-malformed-base64", []string{"bad-base64"}},
		{"torture/enmime/low-quality/unk-charset-part.raw", "enmime-unk-charset-part", []string{"unknown-charset"}},
		{"torture/stalwart-mail-parser/malformed/003.eml", "stalwart-malformed-003", []string{"missing-date", "missing-from", "unterminated-multipart"}},
		{"torture/stalwart-mail-parser/malformed/017.eml", "stalwart-malformed-017", []string{"bad-content-disposition", "bad-content-type", "missing-date"}},
		{"torture/stalwart-mail-parser/malformed/019.eml", "stalwart-malformed-019", []string{"bad-date", "bad-header-line", "boundary-not-found", "duplicate-field", "missing-from", "missing-header-separator"}},
		{"torture/zbateson-mail-mime-parser/m3004.txt", "zbateson-m3004-rfc2231", nil},
		{"torture/sisimai-bounces/maildir/bsd/lhost-trendmicro-01.eml", "sisimai-trendmicro-iso2022jp", []string{"unterminated-multipart"}},
		{"torture/sisimai-bounces/maildir/mac/lhost-x5-01.eml", "sisimai-mac-x5-cr", nil},
		{"torture/mimekit/messages/japanese.txt", "mimekit-japanese", nil},
	}
	corpus := corpustest.Dir(t)
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(corpus, filepath.FromSlash(tc.path)))
			if err != nil {
				t.Fatal(err)
			}
			m := checkGolden(t, raw, filepath.Join("testdata", "corpus", tc.golden+".golden"))
			if got := defectCodes(m); !slices.Equal(got, tc.defects) {
				t.Errorf("defects = %q, want %q (%+v)", got, tc.defects, m.Defects)
			}
		})
	}
}
