package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError is the error Parse returns, in English and Spanish.
type SyntaxError struct {
	Pos   int    // byte offset in the query
	Msg   string // English, e.g. `expected ")" to close the group opened at 12`
	MsgES string // the same in Spanish
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: at %d: %s", e.Pos, e.Msg)
}

// caretWidth is how many characters of a long query Caret shows.
const caretWidth = 72

// Caret renders query on one line (white space shown as spaces, long
// queries cut to a window around the error, marked with …) and, below it, a
// ^ under the character at e.Pos, or just past the end when the error is at
// the end. Columns count characters, so wide (CJK) characters misalign it.
func (e *SyntaxError) Caret(query string) string {
	pos := min(max(e.Pos, 0), len(query))
	var runes []rune
	col := -1
	for i, r := range query {
		if i >= pos && col < 0 {
			col = len(runes)
		}
		if isSpace(r) || unicode.IsControl(r) {
			r = ' '
		}
		runes = append(runes, r)
	}
	if col < 0 {
		col = len(runes)
	}
	start, end := 0, len(runes)
	if end > caretWidth {
		start = max(0, col-caretWidth/2)
		end = min(len(runes), start+caretWidth)
		start = max(0, end-caretWidth)
	}
	line := string(runes[start:end])
	col -= start
	if start > 0 {
		line = "…" + line
		col++
	}
	if end < len(runes) {
		line += "…"
	}
	return line + "\n" + strings.Repeat(" ", col) + "^"
}

func errAt(pos int, en, es string) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: en, MsgES: es}
}

// fieldsEN and fieldsES list the fields for error messages.
const (
	fieldsEN = "from, to, cc, bcc, participant, domain, subject, body, attachment, filename, id, thread, channel, after, before, date, year, has, is, size"
	fieldsES = "de, para, cc, cco, participante, dominio, asunto, cuerpo, attachment, adjunto, id, hilo, canal, después, antes, fecha, año, tiene, es, tamaño"
)

// errUnknownField reports an unknown field name, suggesting the nearest
// known one.
func errUnknownField(pos int, name string) *SyntaxError {
	en := fmt.Sprintf("unknown field %q", name+":")
	es := fmt.Sprintf("campo desconocido %q", name+":")
	if s := suggest(strings.ToLower(name)); s != "" {
		en += fmt.Sprintf(", did you mean %q?", s+":")
		es += fmt.Sprintf(", ¿quiso decir %q?", s+":")
	}
	return errAt(pos, en+" (fields: "+fieldsEN+")", es+" (campos: "+fieldsES+")")
}

// suggest returns the field name (any alias) nearest to name, if it is
// within one edit (two for names of five letters or more).
func suggest(name string) string {
	if len(name) > 32 {
		return ""
	}
	limit := 1
	if utf8.RuneCountInString(name) >= 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, f := range fieldNames() {
		if d := distance(name, f); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// describe names a token for "found …" in messages.
func describe(t token) (en, es string) {
	switch t.kind {
	case tEOF:
		return "the end of the query", "el final de la consulta"
	case tRParen:
		return `")"`, `")"`
	case tWord:
		if !t.quoted && (t.word == "AND" || t.word == "OR") {
			return t.word, t.word
		}
	}
	return "", ""
}

// errExpectedTerm reports a missing term after an operator (op: OR, AND,
// NOT, "-").
func errExpectedTerm(op string, t token) *SyntaxError {
	en := "expected a term after " + op
	es := "se esperaba un término después de " + op
	if fen, fes := describe(t); fen != "" && t.kind != tEOF {
		en += ", found " + fen
		es += " y se encontró " + fes
	}
	return errAt(t.pos, en, es)
}
