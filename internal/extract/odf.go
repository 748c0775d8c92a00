package extract

import (
	"encoding/xml"
	"fmt"
)

// odf adds the text of an OpenDocument text, spreadsheet or presentation
// (OASIS ODF 1.2/1.3, part 3): the paragraphs and headings (text:p,
// text:h) of content.xml, with rows, list items, slides and line breaks as
// lines and cells, tabs and spaces as blanks; for text documents also the
// page headers and footers of styles.xml. Spreadsheet cells are read as
// displayed (their text:p), so numbers appear formatted. Tracked-change
// records (deleted text) and note citations are left out.
func (z *zipDoc) odf(kind string) error {
	if z.files["content.xml"] == nil {
		return fmt.Errorf("%s: no content.xml: %w", kind, ErrCorrupt)
	}
	if err := z.odfPart("content.xml", false); err != nil {
		return err
	}
	if kind == "odt" && z.files["styles.xml"] != nil && !z.x.out.full() {
		z.x.out.newline()
		return z.odfPart("styles.xml", true)
	}
	return nil
}

// odfPart adds the text of one ODF XML part. With headersOnly, only the
// content of style:header and style:footer elements (and their -left and
// -first variants) is kept.
func (z *zipDoc) odfPart(name string, headersOnly bool) error {
	out := &z.x.out
	var para, skip, header, cell int
	return z.walk(name, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p", "h":
				para++
			case "table-cell", "covered-table-cell":
				cell++
			case "s", "tab", "note-body":
				out.space()
			case "line-break":
				out.newline()
			case "tracked-changes", "note-citation", "bookmark-ref":
				skip++
			case "header", "footer", "header-left", "footer-left", "header-first", "footer-first":
				if t.Name.Space == "style" {
					header++
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "p", "h":
				para = max(para-1, 0)
				if cell > 0 {
					out.space() // a table row is one line
				} else {
					out.newline()
				}
			case "table-cell", "covered-table-cell":
				cell = max(cell-1, 0)
				out.space()
			case "table-row", "list-item", "page", "frame", "notes":
				out.newline()
			case "tracked-changes", "note-citation", "bookmark-ref":
				skip = max(skip-1, 0)
			case "header", "footer", "header-left", "footer-left", "header-first", "footer-first":
				if t.Name.Space == "style" {
					header = max(header-1, 0)
				}
			}
		case xml.CharData:
			if para > 0 && skip == 0 && (!headersOnly || header > 0) {
				out.inline(string(t))
			}
		}
		return !out.full()
	})
}
