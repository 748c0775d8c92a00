package query

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the result lines of testdata/*.txt")

// The golden files hold cases, one query per "in: " line (verbatim to the
// end of the line) or "inq: " line (a Go-quoted string, for queries with
// tabs, newlines or bad bytes), each followed by its result lines. Comments
// (#) and blank lines are kept. With -update the result lines are
// regenerated.

// TestValid checks testdata/valid.txt: each query parses, its result is
// "out: " String(n), and String(n) parses back to the same String.
func TestValid(t *testing.T) {
	golden(t, "testdata/valid.txt", func(t *testing.T, q string) []string {
		n, err := Parse(q)
		if err != nil {
			t.Errorf("Parse(%q): %v", q, err)
			return []string{"ERROR: " + err.Error()}
		}
		s := String(n)
		n2, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(String(Parse(%q))) = Parse(%q): %v", q, s, err)
		} else if s2 := String(n2); s2 != s {
			t.Errorf("round trip of %q: %q, then %q", q, s, s2)
		}
		return []string{"out: " + s}
	})
}

// TestInvalid checks testdata/invalid.txt: each query fails with a
// *SyntaxError; the results are "err: pos: Msg", "es: MsgES" and, for "in:"
// cases, "at: " with a ^ under the error.
func TestInvalid(t *testing.T) {
	golden(t, "testdata/invalid.txt", func(t *testing.T, q string) []string {
		n, err := Parse(q)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %s, %v; want a *SyntaxError", q, String(n), err)
			return []string{"NO ERROR"}
		}
		if se.Pos < 0 || se.Pos > len(q) || se.Msg == "" || se.MsgES == "" {
			t.Errorf("Parse(%q): bad error %+v", q, se)
		}
		return []string{fmt.Sprintf("err: %d: %s", se.Pos, se.Msg), "es: " + se.MsgES}
	})
}

func golden(t *testing.T, path string, fn func(t *testing.T, q string) []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	cases := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		q, ok := strings.CutPrefix(line, "in: ")
		quoted := false
		if !ok {
			var s string
			if s, ok = strings.CutPrefix(line, "inq: "); ok {
				if q, err = strconv.Unquote(s); err != nil {
					t.Fatalf("%s:%d: %v", path, i+1, err)
				}
				quoted = true
			}
		}
		if !ok {
			if line == "" || strings.HasPrefix(line, "#") {
				out.WriteString(line + "\n")
				continue
			}
			continue // a result line: regenerated below
		}
		cases++
		out.WriteString(line + "\n")
		var res []string
		t.Run(strconv.Itoa(i+1), func(t *testing.T) {
			res = fn(t, q)
		})
		for _, r := range res {
			out.WriteString(r + "\n")
		}
		if strings.HasPrefix(res[0], "err: ") && !quoted {
			pos, _, _ := strings.Cut(strings.TrimPrefix(res[0], "err: "), ":")
			p, _ := strconv.Atoi(pos)
			out.WriteString("at: " + strings.Repeat(" ", utf8.RuneCountInString(q[:min(p, len(q))])) + "^\n")
		}
	}
	if cases == 0 {
		t.Fatalf("%s: no cases", path)
	}
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("%s differs (run go test -update after checking):\n%s", path, diffLines(string(data), out.String()))
	}
}

// diffLines shows the first differing lines.
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
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			n++
		}
	}
	return b.String()
}
