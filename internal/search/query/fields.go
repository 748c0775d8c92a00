package query

import (
	"fmt"
	"strconv"
	"strings"
)

// lookupField returns the canonical name of a field name or alias,
// case-insensitively. Spanish aliases are accepted with and without accents
// (and with the accent as a combining mark).
func lookupField(name string) (string, bool) {
	switch strings.ToLower(name) {
	case "from", "de":
		return "from", true
	case "to", "para":
		return "to", true
	case "cc":
		return "cc", true
	case "bcc", "cco":
		return "bcc", true
	case "participant", "participante":
		return "participant", true
	case "domain", "dominio":
		return "domain", true
	case "subject", "asunto":
		return "subject", true
	case "body", "cuerpo":
		return "body", true
	case "attachment":
		return "attachment", true
	case "filename", "adjunto", "archivo":
		return "filename", true
	case "id":
		return "id", true
	case "thread", "hilo":
		return "thread", true
	case "channel", "canal":
		return "channel", true
	case "after", "despues", "después", "despue\u0301s":
		return "after", true
	case "before", "antes":
		return "before", true
	case "date", "fecha":
		return "date", true
	case "year", "año", "an\u0303o", "anio":
		return "year", true
	case "has", "tiene":
		return "has", true
	case "is", "es":
		return "is", true
	case "size", "tamaño", "taman\u0303o", "tamano":
		return "size", true
	}
	return "", false
}

// fieldNames lists every name lookupField knows, for suggestions.
func fieldNames() []string {
	return []string{"from", "de", "to", "para", "cc", "bcc", "cco", "participant", "participante",
		"domain", "dominio", "subject", "asunto", "body", "cuerpo", "attachment", "filename", "adjunto",
		"archivo", "id", "thread", "hilo", "channel", "canal", "after", "despues", "después", "before",
		"antes", "date", "fecha", "year", "año", "anio", "has", "tiene", "is", "es", "size", "tamaño", "tamano"}
}

// classify turns a word or phrase token into a leaf node. Rules for a bare
// word, in order: "*" is All; size, tamaño or tamano followed by <, >, = or
// : is a size comparison; name:value with a known field name is a field
// term; name:value with a field-shaped name (two or more letters) is an
// unknown field, unless value is empty (RE:, Fwd:, Nota:) or starts with //
// (a URL); anything else is text, a prefix if it ends with * after at least
// one character.
func (p *parser) classify(t token) (Node, error) {
	if t.kind == tPhrase {
		if strings.TrimSpace(t.text) == "" {
			return nil, errAt(t.pos, "empty phrase", "frase vacía")
		}
		return &Term{Field: "text", Value: t.text, Phrase: true, Pos: t.pos}, nil
	}
	w := t.word
	if t.quoted {
		name := w[:len(w)-1]
		f, ok := lookupField(name)
		if !ok {
			return nil, errUnknownField(t.pos, name)
		}
		return p.fieldValue(f, name, t.text, true, t.pos, t.qpos, t.end)
	}
	if w == "*" {
		return &All{}, nil
	}
	if i := strings.IndexAny(w, "<>=:"); i > 0 && w[i] != ':' {
		if f, ok := lookupField(w[:i]); ok && f == "size" {
			return p.fieldValue(f, w[:i], w[i:], false, t.pos, t.pos+i, t.end)
		}
	}
	if name, value, ok := strings.Cut(w, ":"); ok && name != "" {
		if f, ok := lookupField(name); ok {
			return p.fieldValue(f, name, value, false, t.pos, t.pos+len(name)+1, t.end)
		}
		if fieldShaped(name) && value != "" && !strings.HasPrefix(value, "//") {
			return nil, errUnknownField(t.pos, name)
		}
	}
	term := &Term{Field: "text", Value: w, Pos: t.pos}
	if v, ok := strings.CutSuffix(w, "*"); ok && v != "" {
		term.Value, term.Prefix = v, true
	}
	return term, nil
}

// fieldValue parses the value of field f (typed as name) starting at vpos;
// the term starts at pos and its token ends at end.
func (p *parser) fieldValue(f, name, v string, quoted bool, pos, vpos, end int) (Node, error) {
	if strings.TrimSpace(v) == "" {
		if !quoted && end < len(p.lx.q) && p.lx.q[end] == '(' {
			return nil, errAt(end, fmt.Sprintf("%s:(…) is not supported: write (%s:a OR %s:b)", name, name, name),
				fmt.Sprintf("no se admite %s:(…): escriba (%s:a OR %s:b)", name, name, name))
		}
		return nil, errAt(vpos, fmt.Sprintf("empty value after %q", name+":"), fmt.Sprintf("falta el valor después de %q", name+":"))
	}
	prefix := false
	if !quoted {
		if s, ok := strings.CutSuffix(v, "*"); ok {
			if s == "" {
				return nil, errAt(vpos, fmt.Sprintf("expected a value before * after %q", name+":"),
					fmt.Sprintf("se esperaba un valor antes de * después de %q", name+":"))
			}
			v, prefix = s, true
		}
	}
	noWildcard := func() error {
		return errAt(vpos+len(v), fmt.Sprintf("wildcards (*) are not allowed in %s:", name), fmt.Sprintf("no se admiten comodines (*) en %s:", name))
	}
	switch f {
	case "after", "before", "date", "year":
		if prefix {
			return nil, noWildcard()
		}
		return parseDateField(f, name, v, pos, vpos)
	case "size":
		if prefix {
			return nil, noWildcard()
		}
		return parseSize(name, v, pos, vpos)
	case "has", "is":
		if prefix {
			return nil, noWildcard()
		}
		return parseFlag(f, name, v, pos, vpos)
	case "thread":
		if prefix {
			return nil, noWildcard()
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return nil, errAt(vpos, fmt.Sprintf("%s: expected a thread number, got %q", name, v),
				fmt.Sprintf("%s: se esperaba un número de hilo, no %q", name, v))
		}
		return &Term{Field: f, Value: strconv.FormatUint(n, 10), Pos: pos}, nil
	case "channel":
		if prefix {
			return nil, noWildcard()
		}
		switch c := strings.ToLower(v); c {
		case "import", "mx", "submission", "journal":
			return &Term{Field: f, Value: c, Pos: pos}, nil
		}
		return nil, errAt(vpos, fmt.Sprintf("unknown channel %q (channels: import, mx, submission, journal)", v),
			fmt.Sprintf("canal desconocido %q (canales: import, mx, submission, journal)", v))
	case "id":
		if strings.Trim(v, "<> ") == "" {
			return nil, errAt(vpos, fmt.Sprintf("empty Message-ID after %q", name+":"), fmt.Sprintf("Message-ID vacío después de %q", name+":"))
		}
	}
	return &Term{Field: f, Value: v, Phrase: quoted, Prefix: prefix, Pos: pos}, nil
}

// parseFlag parses has:attachment and is:malformed, with their Spanish
// spellings (tiene:adjunto, es:malformado).
func parseFlag(f, name, v string, pos, vpos int) (Node, error) {
	switch strings.ToLower(v) {
	case "attachment", "attachments", "adjunto", "adjuntos":
		if f == "has" {
			return &Has{What: "attachment", Pos: pos}, nil
		}
	case "malformed", "malformado":
		if f == "is" {
			return &Is{What: "malformed", Pos: pos}, nil
		}
	}
	want, wantES := "attachment", "adjunto"
	if f == "is" {
		want, wantES = "malformed", "malformado"
	}
	return nil, errAt(vpos, fmt.Sprintf("unknown value %q for %s: (expected %s or %s)", v, name, want, wantES),
		fmt.Sprintf("valor desconocido %q para %s: (se esperaba %s o %s)", v, name, wantES, want))
}
