package extract

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// docx adds the main document of a WordprocessingML package, then its
// headers, footers, footnotes, endnotes and comments (ECMA-376 Part 1,
// §17): w:t text, paragraphs and rows as lines, cells separated by blanks.
// Deleted text of tracked changes, field codes and the fallback copies of
// mc:AlternateContent are left out.
func (z *zipDoc) docx() error {
	main := z.officeDocument("word/document.xml")
	if z.files[main] == nil {
		return fmt.Errorf("docx: no main document part: %w", ErrCorrupt)
	}
	if err := z.markup(main); err != nil {
		return err
	}
	var extra []string
	for _, r := range z.rels(main) {
		switch r.typ[strings.LastIndexByte(r.typ, '/')+1:] {
		case "header", "footer", "footnotes", "endnotes", "comments":
			if z.files[r.target] != nil && !slices.Contains(extra, r.target) {
				extra = append(extra, r.target)
			}
		}
	}
	if len(extra) == 0 {
		extra = z.numbered("word/header", ".xml")
		extra = append(extra, z.numbered("word/footer", ".xml")...)
		for _, n := range []string{"word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"} {
			if z.files[n] != nil {
				extra = append(extra, n)
			}
		}
	}
	for _, name := range extra {
		if z.x.out.full() {
			break
		}
		z.x.out.newline()
		if err := z.markup(name); err != nil {
			return err
		}
	}
	return nil
}

// pptx adds the slides of a PresentationML package in presentation order,
// each followed by its notes (ECMA-376 Part 1, §19; text is DrawingML a:t).
func (z *zipDoc) pptx() error {
	main := z.officeDocument("ppt/presentation.xml")
	var slides []string
	if z.files[main] != nil {
		byID := map[string]string{}
		for _, r := range z.rels(main) {
			if strings.HasSuffix(r.typ, "/slide") {
				byID[r.id] = r.target
			}
		}
		err := z.walk(main, func(tok xml.Token) bool {
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sldId" {
				if t := byID[relID(se)]; t != "" && z.files[t] != nil && !slices.Contains(slides, t) {
					slides = append(slides, t)
				}
			}
			return len(slides) < z.x.lim.MaxZipFiles
		})
		if err != nil {
			return err
		}
	}
	if len(slides) == 0 {
		slides = z.numbered("ppt/slides/slide", ".xml")
	}
	if len(slides) == 0 {
		return fmt.Errorf("pptx: no slides: %w", ErrCorrupt)
	}
	for _, s := range slides {
		if z.x.out.full() {
			break
		}
		z.x.out.newline()
		if err := z.markup(s); err != nil {
			return err
		}
		for _, r := range z.rels(s) {
			if strings.HasSuffix(r.typ, "/notesSlide") && z.files[r.target] != nil {
				z.x.out.newline()
				if err := z.markup(r.target); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// relID returns the r:id attribute of an element.
func relID(se xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "id" && a.Name.Space != "" {
			return a.Value
		}
	}
	return ""
}

// markup adds the text of a WordprocessingML or DrawingML part: the content
// of t elements (w:t, a:t, m:t), line breaks for paragraphs, rows and br,
// blanks for tabs and cells (paragraphs inside a cell end with a blank, so
// that a table row is one line).
func (z *zipDoc) markup(name string) error {
	out := &z.x.out
	text, skip, cell := 0, 0, 0
	return z.walk(name, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				text++
			case "delText", "instrText", "delInstrText", "Fallback", "fldData", "binData":
				skip++
			case "tab", "ptab":
				out.space()
			case "tc":
				cell++
			case "br", "cr":
				out.newline()
			case "noBreakHyphen":
				if skip == 0 {
					out.WriteString("-")
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				text = max(text-1, 0)
			case "delText", "instrText", "delInstrText", "Fallback", "fldData", "binData":
				skip = max(skip-1, 0)
			case "p":
				if cell > 0 {
					out.space() // a table row is one line
				} else {
					out.newline()
				}
			case "tr", "txbxContent":
				out.newline()
			case "tc":
				cell = max(cell-1, 0)
				out.space()
			}
		case xml.CharData:
			if text > 0 && skip == 0 {
				out.inline(string(t))
			}
		}
		return !out.full()
	})
}

// numbered returns the entries prefix+N+suffix, sorted by N.
func (z *zipDoc) numbered(prefix, suffix string) []string {
	type entry struct {
		n    int
		name string
	}
	var es []entry
	for name := range z.files {
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		mid := name[len(prefix) : len(name)-len(suffix)]
		n, err := strconv.Atoi(mid)
		if mid != "" && err != nil {
			continue
		}
		es = append(es, entry{n, name})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.n != b.n {
			return a.n - b.n
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
}

// xlsx adds the cells of every worksheet of a SpreadsheetML package in
// workbook order (ECMA-376 Part 1, §18), each sheet headed by its name:
// shared strings, inline strings, formula results and numbers as stored
// (dates are serial numbers: number formats are not applied). Booleans and
// error values are left out. A row is a line, cells are separated by blanks.
func (z *zipDoc) xlsx() error {
	wb := z.officeDocument("xl/workbook.xml")
	rels := z.rels(wb)
	shared := "xl/sharedStrings.xml"
	byID := map[string]string{}
	for _, r := range rels {
		switch {
		case strings.HasSuffix(r.typ, "/sharedStrings"):
			shared = r.target
		case strings.HasSuffix(r.typ, "/worksheet"):
			byID[r.id] = r.target
		}
	}
	type sheet struct{ name, part string }
	var sheets []sheet
	if z.files[wb] != nil {
		err := z.walk(wb, func(tok xml.Token) bool {
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sheet" {
				if p := byID[relID(se)]; p != "" && z.files[p] != nil {
					sheets = append(sheets, sheet{attr(se, "name"), p})
				}
			}
			return len(sheets) < z.x.lim.MaxZipFiles
		})
		if err != nil {
			return err
		}
	}
	if len(sheets) == 0 {
		for _, p := range z.numbered("xl/worksheets/sheet", ".xml") {
			sheets = append(sheets, sheet{"", p})
		}
	}
	if len(sheets) == 0 {
		return fmt.Errorf("xlsx: no worksheets: %w", ErrCorrupt)
	}
	var strs []string
	if z.files[shared] != nil {
		var err error
		if strs, err = z.sharedStrings(shared); err != nil {
			return err
		}
	}
	for _, s := range sheets {
		if z.x.out.full() {
			break
		}
		z.x.out.newline()
		if s.name != "" {
			z.x.out.WriteString(s.name)
			z.x.out.newline()
		}
		if err := z.worksheet(s.part, strs); err != nil {
			return err
		}
	}
	return nil
}

// sharedStrings reads the shared string table. Phonetic runs (rPh) are
// left out. At most 4×MaxText bytes of strings are kept (more could never
// all be shown); later strings read as empty.
func (z *zipDoc) sharedStrings(name string) ([]string, error) {
	var (
		strs      []string
		cur       strings.Builder
		inT, skip int
		kept      int
		limit     = 4 * z.x.out.max
	)
	err := z.walk(name, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				cur.Reset()
			case "t":
				inT++
			case "rPh":
				skip++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				s := cur.String()
				if kept+len(s) > limit {
					s = ""
				}
				kept += len(s)
				strs = append(strs, s)
				cur.Reset()
			case "t":
				inT = max(inT-1, 0)
			case "rPh":
				skip = max(skip-1, 0)
			}
		case xml.CharData:
			if inT > 0 && skip == 0 && kept+cur.Len() <= limit {
				cur.Write(t)
			}
		}
		return true
	})
	return strs, err
}

// worksheet adds the cells of one worksheet.
func (z *zipDoc) worksheet(name string, strs []string) error {
	out := &z.x.out
	var (
		typ       string
		val       strings.Builder
		inV, inIs int
	)
	return z.walk(name, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "c":
				typ = attr(t, "t")
				val.Reset()
			case "v":
				inV++
			case "t":
				if typ == "inlineStr" {
					inIs++
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "c":
				s := val.String()
				switch typ {
				case "s":
					if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && i >= 0 && i < len(strs) {
						s = strs[i]
					} else {
						s = ""
					}
				case "b", "e":
					s = ""
				}
				if s != "" {
					out.space()
					out.inline(s)
					out.space()
				}
				val.Reset()
			case "v":
				inV = max(inV-1, 0)
			case "t":
				inIs = max(inIs-1, 0)
			case "row":
				out.newline()
			}
		case xml.CharData:
			if (inV > 0 || inIs > 0) && val.Len() < out.max {
				val.Write(t)
			}
		}
		return !out.full()
	})
}
