package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestParseTree checks what String does not show: positions, flags, exact
// dates and sizes.
func TestParseTree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, q string
		want    Node
	}{
		{"empty", "", &All{}},
		{"star", " * ", &All{}},
		{"word", "contrato", &Term{Field: "text", Value: "contrato"}},
		{"prefix", "  licit*", &Term{Field: "text", Value: "licit", Prefix: true, Pos: 2}},
		{"phrase", `"licitación pública"`, &Term{Field: "text", Value: "licitación pública", Phrase: true}},
		{"field phrase", `a subject:"licitación pública"`, &And{Terms: []Node{
			&Term{Field: "text", Value: "a"},
			&Term{Field: "subject", Value: "licitación pública", Phrase: true, Pos: 2},
		}}},
		{"negation position", "x -from:Juan", &And{Terms: []Node{
			&Term{Field: "text", Value: "x"},
			&Not{Term: &Term{Field: "from", Value: "Juan", Pos: 3}},
		}}},
		{"or and", "a OR b c", &Or{Terms: []Node{
			&Term{Field: "text", Value: "a"},
			&And{Terms: []Node{&Term{Field: "text", Value: "b", Pos: 5}, &Term{Field: "text", Value: "c", Pos: 7}}},
		}}},
		{"after", "después:2023-01", &DateRange{From: utc(2023, 1, 1)}},
		{"before", "before:2024-12-31", &DateRange{To: utc(2024, 12, 31)}},
		{"date day", "date:2024-03-05", &DateRange{From: utc(2024, 3, 5), To: utc(2024, 3, 6)}},
		{"date month", "date:2024-02", &DateRange{From: utc(2024, 2, 1), To: utc(2024, 3, 1)}},
		{"date december", "date:2023-12", &DateRange{From: utc(2023, 12, 1), To: utc(2024, 1, 1)}},
		{"year", "year:2023", &DateRange{From: utc(2023, 1, 1), To: utc(2024, 1, 1)}},
		{"date range", "date:2023-11..2024", &DateRange{From: utc(2023, 11, 1), To: utc(2025, 1, 1)}},
		{"size >", "size>1MB", &SizeRange{Min: 1_000_001, Max: -1}},
		{"size >=", "size>=2MiB", &SizeRange{Min: 2 << 20, Max: -1}},
		{"size <", "size<500KB", &SizeRange{Min: -1, Max: 500_000}},
		{"size <=", "size<=500KB", &SizeRange{Min: -1, Max: 500_001}},
		{"size decimal", "size>=1.5MB", &SizeRange{Min: 1_500_000, Max: -1}},
		{"size fraction >", "size>0.5", &SizeRange{Min: 1, Max: -1}},
		{"size fraction >=", "size>=0.5", &SizeRange{Min: 1, Max: -1}},
		{"size fraction <", "size<0.5", &SizeRange{Min: -1, Max: 1}},
		{"size fraction <=", "size<=0.5", &SizeRange{Min: -1, Max: 1}},
		{"size case", "TAMAÑO>1kib", &SizeRange{Min: 1025, Max: -1}},
		{"has", "tiene:adjunto", &Has{What: "attachment"}},
		{"is", "  is:malformed", &Is{What: "malformed", Pos: 2}},
		{"thread", "hilo:0042", &Term{Field: "thread", Value: "42"}},
		{"channel", "canal:MX", &Term{Field: "channel", Value: "mx"}},
		{"id as typed", "id:<A@B>", &Term{Field: "id", Value: "<A@B>"}},
		{"not lowercased", "De:Juan.Perez@SEP.gob.mx", &Term{Field: "from", Value: "Juan.Perez@SEP.gob.mx"}},
		{"url", "http://x.mx/a", &Term{Field: "text", Value: "http://x.mx/a"}},
		{"time", "10:30", &Term{Field: "text", Value: "10:30"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.q)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.q, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got  %#v\n want %#v", tc.q, got, tc.want)
			}
		})
	}
}

// TestLimits checks that limits are errors at the right place, and that
// nothing recurses without bound.
func TestLimits(t *testing.T) {
	t.Parallel()
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("a ", n)) }
	tests := []struct {
		name, q string
		pos     int    // -1: must parse
		msg     string // part of the English message
	}{
		{"length ok", strings.Repeat("x", MaxQueryLen), -1, ""},
		{"too long", strings.Repeat("x", MaxQueryLen+1), MaxQueryLen, "too long"},
		{"terms ok", words(MaxTerms), -1, ""},
		{"too many terms", words(MaxTerms + 1), 2 * MaxTerms, "too many terms"},
		{"too many terms in or", strings.Repeat("a OR ", MaxTerms) + "a", 5 * MaxTerms, "too many terms"},
		{"groups ok", strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth), -1, ""},
		{"groups too deep", strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1), MaxDepth, "too deeply nested"},
		{"huge groups", strings.Repeat("(", MaxQueryLen), MaxDepth, "too deeply nested"},
		{"negations ok", strings.Repeat("-", MaxDepth) + "a", -1, ""},
		{"negations too deep", strings.Repeat("NOT ", MaxDepth+1) + "a", 4 * MaxDepth, "too deeply nested"},
		{"huge negations", strings.Repeat("-", MaxQueryLen), MaxDepth, "too deeply nested"},
		// "a OR b (…)" is an OR holding an AND: the tree grows two levels
		// for each group written.
		{"tree too deep", strings.Repeat("a OR b (", 16) + "a OR b c" + strings.Repeat(")", 16), 5, "too deeply nested"},
		{"tree ok", strings.Repeat("a OR b (", 15) + "a OR b c" + strings.Repeat(")", 15), -1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse(tc.q)
			if tc.pos < 0 {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				s := String(n)
				if n2, err := Parse(s); err != nil || String(n2) != s {
					t.Errorf("round trip of %.40q: %v", s, err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, want a *SyntaxError", err)
			}
			if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("error at %d %q, want at %d containing %q", se.Pos, se.Msg, tc.pos, tc.msg)
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	t.Parallel()
	q := "de:juan (asunto:oficio OR"
	_, err := Parse(q)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Parse(%q) = %v, want a *SyntaxError", q, err)
	}
	if got, want := err.Error(), "query: at 25: expected a term after OR"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if se.MsgES != "se esperaba un término después de OR" {
		t.Errorf("MsgES = %q", se.MsgES)
	}
}

func TestCaret(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("palabra ", 30) // 240 characters
	tests := []struct {
		name, q string
		pos     int
		want    string
	}{
		{"start", "frm:x", 0, "frm:x\n^"},
		{"end", "a OR", 4, "a OR\n    ^"},
		{"accents count as one", "después:2024-13", 9, "después:2024-13\n        ^"},
		{"tabs and newlines", "a\tb\n(", 4, "a b (\n    ^"},
		{"past the end", "ab", 99, "ab\n  ^"},
		{"long, middle", long, 120, "…" + long[84:156] + "…\n" + strings.Repeat(" ", 37) + "^"},
		{"long, start", long, 0, long[:72] + "…\n^"},
		{"long, end", long, len(long), "…" + long[168:] + "\n" + strings.Repeat(" ", 73) + "^"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &SyntaxError{Pos: tc.pos}
			if got := e.Caret(tc.q); got != tc.want {
				t.Errorf("Caret:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestStringBuilt checks String on trees Parse does not produce.
func TestStringBuilt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    Node
		want string
	}{
		{"nil", nil, "*"},
		{"all value", All{}, "*"},
		{"empty and", &And{}, "*"},
		{"empty or", &Or{}, "NOT *"},
		{"single and", &And{Terms: []Node{&Term{Field: "text", Value: "a"}}}, "(a)"},
		{"value needing quotes", &Term{Field: "text", Value: "a b"}, `"a b"`},
		{"operator value", &Term{Field: "text", Value: "OR"}, `"OR"`},
		{"minus value", &Term{Field: "text", Value: "-a"}, `"-a"`},
		{"star value", &Term{Field: "subject", Value: "a*"}, `subject:"a*"`},
		{"field-like text", &Term{Field: "text", Value: "from:x"}, `"from:x"`},
		{"quote and backslash", &Term{Field: "from", Value: `a"b\`}, `from:"a\"b\\"`},
		{"unknown field", &Term{Field: "x", Value: "y"}, `x:"y"`},
		{"two-sided size", &SizeRange{Min: 10, Max: 20}, "(size>=10 AND size<20)"},
		{"open size", &SizeRange{Min: -1, Max: -1}, "size>=0"},
		{"open dates", &DateRange{}, "date:.."},
		{"dates not at midnight", &DateRange{From: time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC), To: utc(2024, 4, 1)},
			"(after:2024-03-05T10:30:00Z AND before:2024-04-01)"},
		{"dates in another zone", &DateRange{From: time.Date(2024, 3, 5, 0, 0, 0, 0, time.FixedZone("CST", -6*3600))},
			"after:2024-03-05T06:00:00Z"},
		{"has with space", &Has{What: "a b"}, `has:"a b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := String(tc.n); got != tc.want {
				t.Errorf("String = %q, want %q", got, tc.want)
			}
		})
	}
}
