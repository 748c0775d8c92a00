package query

import "fmt"

// Limits on what Parse accepts, so that a query cannot exhaust memory, time
// or stack.
const (
	MaxQueryLen = 4096 // bytes
	MaxTerms    = 64   // leaves: words, phrases, field terms, dates, sizes, has:, is:, *
	MaxDepth    = 32   // nesting, both as written and in the parsed tree
)

// Parse parses a query in the language described in the package
// documentation. The empty query (or only white space) is &All{}. Errors are
// *SyntaxError.
func Parse(q string) (Node, error) {
	return parse(q, MaxQueryLen)
}

func parse(q string, maxLen int) (Node, error) {
	if len(q) > maxLen {
		return nil, errAt(maxLen, fmt.Sprintf("query too long (%d bytes, at most %d)", len(q), maxLen),
			fmt.Sprintf("consulta demasiado larga (%d bytes, máximo %d)", len(q), maxLen))
	}
	if err := checkText(q); err != nil {
		return nil, err
	}
	p := &parser{lx: lexer{q: q}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return &All{}, nil
	}
	n, _, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errHere()
	}
	return n, nil
}

// parser is a recursive-descent parser over the lexer, with one token of
// lookahead:
//
//	or    = and { "OR" and }
//	and   = unary { [ "AND" ] unary }
//	unary = ( "NOT" | "-" ) unary | "(" or ")" | leaf
//
// Each function returns the depth of the tree it built (leaves 0, each And,
// Or and Not one more).
type parser struct {
	lx    lexer
	tok   token
	terms int // leaves so far
	nest  int // open groups and negations around the current token
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// isOp reports whether the current token is the operator op (AND, OR or
// NOT: uppercase, unquoted).
func (p *parser) isOp(op string) bool {
	return p.tok.kind == tWord && !p.tok.quoted && p.tok.word == op
}

// startsTerm reports whether the current token can start a unary.
func (p *parser) startsTerm() bool {
	switch p.tok.kind {
	case tPhrase, tLParen, tMinus:
		return true
	case tWord:
		return !p.isOp("AND") && !p.isOp("OR")
	}
	return false
}

// errHere reports a token that cannot appear where it is: a ")" with no
// group open, or AND/OR with nothing before it.
func (p *parser) errHere() error {
	if p.tok.kind == tRParen {
		return errAt(p.tok.pos, `unexpected ")": no group is open`, `")" inesperado: no hay ningún grupo abierto`)
	}
	op, _ := describe(p.tok)
	return errAt(p.tok.pos, "expected a term before "+op, "se esperaba un término antes de "+op)
}

func errDepth(pos int) error {
	return errAt(pos, fmt.Sprintf("too deeply nested (more than %d levels)", MaxDepth),
		fmt.Sprintf("anidamiento demasiado profundo (más de %d niveles)", MaxDepth))
}

func (p *parser) parseOr() (Node, int, error) {
	start := p.tok.pos
	n, depth, err := p.parseAnd()
	if err != nil || !p.isOp("OR") {
		return n, depth, err
	}
	terms := []Node{n}
	for p.isOp("OR") {
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if !p.startsTerm() {
			return nil, 0, errExpectedTerm(op.word, p.tok)
		}
		n, d, err := p.parseAnd()
		if err != nil {
			return nil, 0, err
		}
		terms, depth = append(terms, n), max(depth, d)
	}
	if depth+1 > MaxDepth {
		return nil, 0, errDepth(start)
	}
	return &Or{Terms: terms}, depth + 1, nil
}

func (p *parser) parseAnd() (Node, int, error) {
	start := p.tok.pos
	if !p.startsTerm() {
		return nil, 0, p.errHere()
	}
	n, depth, err := p.parseUnary()
	if err != nil {
		return nil, 0, err
	}
	terms := []Node{n}
	for {
		if p.isOp("AND") {
			op := p.tok
			if err := p.advance(); err != nil {
				return nil, 0, err
			}
			if !p.startsTerm() {
				return nil, 0, errExpectedTerm(op.word, p.tok)
			}
		} else if !p.startsTerm() {
			break
		}
		n, d, err := p.parseUnary()
		if err != nil {
			return nil, 0, err
		}
		terms, depth = append(terms, n), max(depth, d)
	}
	if len(terms) == 1 {
		return terms[0], depth, nil
	}
	if depth+1 > MaxDepth {
		return nil, 0, errDepth(start)
	}
	return &And{Terms: terms}, depth + 1, nil
}

func (p *parser) parseUnary() (Node, int, error) {
	op := p.tok
	switch {
	case op.kind == tMinus || p.isOp("NOT"):
		name := "NOT"
		if op.kind == tMinus {
			name = `"-"`
		}
		if p.nest++; p.nest > MaxDepth {
			return nil, 0, errDepth(op.pos)
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if op.kind == tMinus && p.tok.pos != op.end {
			return nil, 0, errAt(op.pos, `"-" must be followed by a term without a space (write -borrador)`,
				`"-" debe ir pegado al término, sin espacio (escriba -borrador)`)
		}
		if !p.startsTerm() {
			return nil, 0, errExpectedTerm(name, p.tok)
		}
		n, d, err := p.parseUnary()
		if err != nil {
			return nil, 0, err
		}
		p.nest--
		if d+1 > MaxDepth {
			return nil, 0, errDepth(op.pos)
		}
		return &Not{Term: n}, d + 1, nil
	case op.kind == tLParen:
		if p.nest++; p.nest > MaxDepth {
			return nil, 0, errDepth(op.pos)
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		if p.tok.kind == tRParen {
			return nil, 0, errAt(op.pos, `empty group "()"`, `grupo vacío "()"`)
		}
		var n Node
		var d int
		if p.tok.kind != tEOF {
			var err error
			if n, d, err = p.parseOr(); err != nil {
				return nil, 0, err
			}
		}
		if p.tok.kind != tRParen {
			return nil, 0, errAt(p.tok.pos, fmt.Sprintf(`expected ")" to close the group opened at %d`, op.pos),
				fmt.Sprintf(`se esperaba ")" para cerrar el grupo abierto en %d`, op.pos))
		}
		if err := p.advance(); err != nil {
			return nil, 0, err
		}
		p.nest--
		return n, d, nil
	}
	if p.terms++; p.terms > MaxTerms {
		return nil, 0, errAt(op.pos, fmt.Sprintf("too many terms (more than %d)", MaxTerms),
			fmt.Sprintf("demasiados términos (más de %d)", MaxTerms))
	}
	n, err := p.classify(op)
	if err != nil {
		return nil, 0, err
	}
	if err := p.advance(); err != nil {
		return nil, 0, err
	}
	return n, 0, nil
}
