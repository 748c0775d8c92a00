package query

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are
// *SyntaxError inside the query with messages in both languages, that
// accepted queries stay within the limits, and that String is canonical:
// String(n) parses back to a tree with the same String. The canonical form
// can outgrow MaxQueryLen (it spells out AND, field names, dates and sizes),
// so when it does the round trip is checked without the length limit.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.txt", "testdata/invalid.txt"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if q, ok := strings.CutPrefix(line, "in: "); ok {
				f.Add(q)
			} else if s, ok := strings.CutPrefix(line, "inq: "); ok {
				if q, err := strconv.Unquote(s); err == nil {
					f.Add(q)
				}
			}
		}
	}
	f.Add(strings.Repeat("(a ", 40))
	f.Add(strings.Repeat("-", 40) + "x")
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T %v, want *SyntaxError", q, err, err)
			}
			if se.Pos < 0 || se.Pos > len(q) || se.Msg == "" || se.MsgES == "" {
				t.Fatalf("Parse(%q): bad error %+v", q, se)
			}
			_ = se.Caret(q)
			return
		}
		if n == nil {
			t.Fatalf("Parse(%q) = nil, nil", q)
		}
		if leaves, depth := measure(n); leaves > MaxTerms || depth > MaxDepth {
			t.Fatalf("Parse(%q): %d leaves, depth %d", q, leaves, depth)
		}
		s := String(n)
		limit := MaxQueryLen
		if len(s) > limit {
			limit = math.MaxInt
		}
		n2, err := parse(s, limit)
		if err != nil {
			t.Fatalf("Parse(%q) ok, String = %q, which fails: %v", q, s, err)
		}
		if s2 := String(n2); s2 != s {
			t.Fatalf("Parse(%q): String %q, then %q", q, s, s2)
		}
	})
}

// measure counts the leaves of n and the depth of its And, Or and Not nodes.
func measure(n Node) (leaves, depth int) {
	var kids []Node
	switch n := n.(type) {
	case *And:
		kids = n.Terms
	case *Or:
		kids = n.Terms
	case *Not:
		kids = []Node{n.Term}
	default:
		return 1, 0
	}
	for _, k := range kids {
		l, d := measure(k)
		leaves, depth = leaves+l, max(depth, d)
	}
	return leaves, depth + 1
}
