package extract

import (
	"bytes"
	"html"
	"strings"
)

// html adds the visible text of an HTML document. It is a tokenizer, not an
// HTML5 tree builder: text outside tags is kept, comments, declarations and
// processing instructions are dropped, script/style/template/xml content
// and everything in head is dropped, block-level elements and br start a
// new line, table cells are separated by a blank, and character references
// are decoded (html.UnescapeString knows the whole HTML5 entity table).
// Whitespace collapses as browsers do outside pre. Styles are not
// evaluated: text hidden with CSS (display:none) is kept.
func (x *extractor) html(b []byte) error {
	var (
		inHead  bool
		pre     int
		textBuf []byte
	)
	flush := func() {
		if len(textBuf) == 0 {
			return
		}
		s := string(textBuf)
		if strings.IndexByte(s, '&') >= 0 {
			s = html.UnescapeString(s)
		}
		textBuf = textBuf[:0]
		if inHead {
			if strings.TrimSpace(s) == "" {
				return
			}
			inHead = false // text in head starts the body, as in browsers
		}
		if pre > 0 {
			x.out.WriteString(s)
		} else {
			x.out.inline(s)
		}
	}
	for i := 0; i < len(b); {
		if x.out.full() {
			return nil
		}
		if err := x.alive(); err != nil {
			return err
		}
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			textBuf = append(textBuf, b[i:]...)
			break
		}
		textBuf = append(textBuf, b[i:i+lt]...)
		i += lt
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			flush()
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return nil
			}
			i += 4 + end + 3
		case len(rest) > 1 && (rest[1] == '!' || rest[1] == '?'):
			flush()
			i += skipTag(rest)
		case len(rest) > 2 && rest[1] == '/' && isASCIILetter(rest[2]):
			flush()
			name, n := tagName(rest[2:])
			i += 2 + n
			i += skipTag(b[i:])
			switch {
			case name == "head":
				inHead = false
			case name == "pre" || name == "textarea" || name == "listing":
				pre = max(pre-1, 0)
				x.out.newline()
			case blockElement(name):
				x.out.newline()
			case cellElement(name):
				x.out.space()
			}
		case len(rest) > 1 && isASCIILetter(rest[1]):
			flush()
			name, n := tagName(rest[1:])
			i += 1 + n
			i += skipTag(b[i:])
			switch name {
			case "head":
				inHead = true
				continue
			case "title", "meta", "link", "base", "basefont", "bgsound", "noframes", "style", "script", "template", "xml":
			default:
				inHead = false // any other element starts the body
			}
			switch {
			case rawTextElement(name):
				// Skip to the matching end tag (RAWTEXT / RCDATA).
				end := indexFold(b[i:], "</"+name)
				if end < 0 {
					return nil
				}
				i += end
			case name == "pre" || name == "textarea" || name == "listing":
				pre++
				x.out.newline()
			case name == "br" || name == "hr" || blockElement(name):
				x.out.newline()
			case cellElement(name) || name == "img":
				x.out.space()
			}
		default:
			textBuf = append(textBuf, '<')
			i++
		}
	}
	flush()
	return nil
}

// rawTextElement reports elements whose content is never shown as text.
func rawTextElement(name string) bool {
	switch name {
	case "script", "style", "title", "template", "xml", "noembed", "iframe", "object", "svg", "math":
		return true
	}
	return false
}

// blockElement reports elements that start and end a line.
func blockElement(name string) bool {
	switch name {
	case "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "thead", "tbody", "tfoot", "caption",
		"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article", "header", "footer", "nav",
		"aside", "address", "form", "fieldset", "legend", "figure", "figcaption", "main", "center", "body",
		"html", "details", "summary", "option", "hgroup", "menu", "dir", "frameset", "frame", "noscript":
		return true
	}
	return false
}

func cellElement(name string) bool { return name == "td" || name == "th" }

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// tagName returns the lowercased name at the start of b and its length.
func tagName(b []byte) (string, int) {
	n := 0
	for n < len(b) && n < 64 {
		c := b[n]
		if c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' {
			break
		}
		n++
	}
	for n < len(b) && !(b[n] == '>' || b[n] == '/' || b[n] <= ' ') {
		n++ // overlong names: skip, unnamed
	}
	if n > 64 {
		return "", n
	}
	return strings.ToLower(string(b[:n])), n
}

// skipTag returns the length of b up to and including the '>' that closes
// the tag, honouring quoted attribute values; all of b if there is none.
func skipTag(b []byte) int {
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '>':
			return i + 1
		case (c == '"' || c == '\'') && i > 0 && (b[i-1] == '=' || b[i-1] <= ' '):
			// A quote opens a value only after '=' (or a blank before a
			// value); elsewhere it is a stray character.
			end := bytes.IndexByte(b[i+1:], c)
			if end < 0 {
				return len(b)
			}
			if bytes.IndexByte(b[i+1:i+1+end], '>') >= 0 && bytes.IndexByte(b[i+1:i+1+end], '<') >= 0 {
				// An unterminated quote swallowing markup: stop at the '>'.
				return i + 1 + bytes.IndexByte(b[i+1:], '>') + 1
			}
			i += end + 1
		}
	}
	return len(b)
}

// indexFold returns the index of the ASCII string s in b ignoring case, or -1.
func indexFold(b []byte, s string) int {
	if len(s) == 0 {
		return 0
	}
	first := s[0]
	for i := 0; i+len(s) <= len(b); {
		j := bytes.IndexByte(b[i:], first)
		if j < 0 {
			return -1
		}
		i += j
		if i+len(s) > len(b) {
			return -1
		}
		if strings.EqualFold(string(b[i:i+len(s)]), s) {
			return i
		}
		i++
	}
	return -1
}
