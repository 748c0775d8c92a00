package query

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Node is a parsed query. The set of nodes is closed: And, Or, Not, Term,
// DateRange, SizeRange, Has, Is and All. Parse returns pointers to them
// (*All too); All is also a Node as a value.
type Node interface{ node() }

// And matches what all of its Terms match.
type And struct{ Terms []Node }

// Or matches what any of its Terms matches.
type Or struct{ Terms []Node }

// Not matches what Term does not match.
type Not struct{ Term Node }

// Term is a word, prefix or phrase searched in a field.
type Term struct {
	// Field is canonical: "text" (a bare word: subject, body and attachment
	// text), "subject", "body", "attachment", "from", "to", "cc", "bcc",
	// "participant" (any address field), "domain" (any address's domain),
	// "filename", "id" (Message-ID), "thread" or "channel".
	Field string
	// Value is as typed: unquoted, unescaped, not lowercased (the index does
	// its own analysis). Two fields are normalized because their values are
	// not text: thread (a decimal number without leading zeros) and channel
	// (lowercase: import, mx, submission or journal).
	Value  string
	Phrase bool // Value was quoted
	Prefix bool // Value was followed by * (Value excludes the *)
	Pos    int  // byte offset of the term (of its field name, if any) in the query
}

// DateRange matches messages dated in [From, To). A zero From or To is open.
// Parse produces UTC midnights: after:D sets From to the start of D,
// before:D sets To to the start of D, date:D and year:Y set both to cover D
// or Y whole.
type DateRange struct {
	From, To time.Time
	Pos      int
}

// SizeRange matches messages whose size in bytes is in [Min, Max); -1 is
// open. Parse turns size>N into Min=N+1, size>=N into Min=N, size<N into
// Max=N and size<=N into Max=N+1 (with N rounded to whole bytes in the
// direction that keeps the comparison exact).
type SizeRange struct {
	Min, Max int64
	Pos      int
}

// Has matches messages that have something: "attachment".
type Has struct {
	What string
	Pos  int
}

// Is matches messages in a state: "malformed".
type Is struct {
	What string
	Pos  int
}

// All matches every message: the empty query, or "*".
type All struct{}

func (*And) node()       {}
func (*Or) node()        {}
func (*Not) node()       {}
func (*Term) node()      {}
func (*DateRange) node() {}
func (*SizeRange) node() {}
func (*Has) node()       {}
func (*Is) node()        {}
func (All) node()        {}

// String renders n canonically, for the access ledger and for tests: every
// AND and OR group in parentheses, NOT spelled out, field names in English,
// dates as YYYY-MM-DD and sizes in bytes. For any n returned by Parse,
// Parse(String(n)) returns a tree with the same String. (The canonical form
// can be longer than the query typed, so near MaxQueryLen it can exceed it.)
// Nodes built by hand that Parse cannot produce (a Term both Phrase and
// Prefix, dates that are not UTC midnights) are rendered faithfully but may
// not parse back.
func String(n Node) string {
	var b strings.Builder
	write(&b, n)
	return b.String()
}

func write(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *And:
		if n == nil || len(n.Terms) == 0 {
			b.WriteString("*")
			return
		}
		group(b, " AND ", n.Terms)
	case *Or:
		if n == nil || len(n.Terms) == 0 {
			b.WriteString("NOT *")
			return
		}
		group(b, " OR ", n.Terms)
	case *Not:
		b.WriteString("NOT ")
		if n == nil {
			b.WriteString("*")
			return
		}
		write(b, n.Term)
	case *Term:
		if n == nil {
			b.WriteString("*")
			return
		}
		b.WriteString(termString(n))
	case *DateRange:
		if n == nil {
			b.WriteString("*")
			return
		}
		b.WriteString(dateString(n))
	case *SizeRange:
		if n == nil {
			b.WriteString("*")
			return
		}
		b.WriteString(sizeString(n))
	case *Has:
		if n == nil {
			b.WriteString("*")
			return
		}
		b.WriteString("has:" + valueString(n.What))
	case *Is:
		if n == nil {
			b.WriteString("*")
			return
		}
		b.WriteString("is:" + valueString(n.What))
	default: // nil, All, *All
		b.WriteString("*")
	}
}

func group(b *strings.Builder, sep string, terms []Node) {
	b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		write(b, t)
	}
	b.WriteByte(')')
}

// termString renders a Term bare when that parses back to the same Term,
// quoted otherwise.
func termString(t *Term) string {
	field := ""
	if t.Field != "text" {
		field = t.Field + ":"
	}
	if !t.Phrase {
		s := field + t.Value
		if t.Prefix {
			s += "*"
		}
		n, err := parse(s, math.MaxInt)
		if u, ok := n.(*Term); err == nil && ok && u.Field == t.Field && u.Value == t.Value && u.Prefix == t.Prefix && !u.Phrase {
			return s
		}
	}
	s := field + quote(t.Value)
	if t.Prefix {
		s += "*"
	}
	return s
}

// valueString quotes v unless it is a plain word.
func valueString(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return isSpace(r) || r == '(' || r == ')' || r == '"' }) {
		return quote(v)
	}
	return v
}

// quote renders v as a phrase: in double quotes, with " and \ escaped by \.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

const dayLayout = "2006-01-02"

// midnight reports whether t is 00:00 UTC.
func midnight(t time.Time) bool {
	u := t.UTC()
	return u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0
}

func dateValue(t time.Time) string {
	if midnight(t) {
		return t.UTC().Format(dayLayout)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// dateString renders after:F, before:T, or date:F..L with L the last day
// included (To minus one day), date:F for a single day.
func dateString(d *DateRange) string {
	switch {
	case d.From.IsZero() && d.To.IsZero():
		return "date:.."
	case d.To.IsZero():
		return "after:" + dateValue(d.From)
	case d.From.IsZero():
		return "before:" + dateValue(d.To)
	case midnight(d.From) && midnight(d.To) && d.From.Before(d.To):
		last := d.To.UTC().AddDate(0, 0, -1)
		if last.Equal(d.From) {
			return "date:" + dateValue(d.From)
		}
		return "date:" + dateValue(d.From) + ".." + dateValue(last)
	}
	return "(after:" + dateValue(d.From) + " AND before:" + dateValue(d.To) + ")"
}

// sizeString renders size>=Min, size<Max or both.
func sizeString(s *SizeRange) string {
	switch {
	case s.Min >= 0 && s.Max >= 0:
		return "(size>=" + strconv.FormatInt(s.Min, 10) + " AND size<" + strconv.FormatInt(s.Max, 10) + ")"
	case s.Max >= 0:
		return "size<" + strconv.FormatInt(s.Max, 10)
	case s.Min >= 0:
		return "size>=" + strconv.FormatInt(s.Min, 10)
	}
	return "size>=0"
}
