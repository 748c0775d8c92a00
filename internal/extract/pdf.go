package extract

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// pdfMaxPages bounds the page tree walk; pdfMaxFormDepth the nesting of
// form XObjects drawn by Do.
const (
	pdfMaxPages     = 100000
	pdfMaxTreeDepth = 64
	pdfMaxFormDepth = 8
)

// pdfDoc is a PDF file read tolerantly: objects are found by scanning the
// whole file for "num gen obj" (later definitions win, as with incremental
// updates), not through the cross-reference table, so that damaged files
// still give their text; objects inside object streams are added after.
type pdfDoc struct {
	x       *extractor
	data    []byte
	objs    map[int]any
	trailer pdfDict
	crypt   *pdfCrypt
	fonts   map[any]*pdfFont
	glyphs  map[string]rune
}

// pdf adds the text of a PDF document, page by page.
func (x *extractor) pdf(data []byte) error {
	d := &pdfDoc{x: x, data: data, objs: map[int]any{}, fonts: map[any]*pdfFont{}}
	if err := d.scan(); err != nil {
		return err
	}
	if enc, ok := d.resolve(d.trailer["Encrypt"]).(pdfDict); ok {
		c, err := newPDFCrypt(enc, d.trailer)
		if err != nil {
			return err
		}
		d.crypt = c
	}
	if err := d.objectStreams(); err != nil {
		return err
	}
	pages := d.pages()
	if len(pages) == 0 {
		return fmt.Errorf("pdf: no pages found: %w", ErrCorrupt)
	}
	for i, pg := range pages {
		if x.out.full() {
			return nil
		}
		if i > 0 {
			x.out.newline()
		}
		if err := d.page(pg); err != nil {
			return err
		}
	}
	return nil
}

// scan finds every "num gen obj" in the file, parses the object and keeps
// it (streams with their raw data), and reads the trailer dictionary.
func (d *pdfDoc) scan() error {
	b := d.data
	for pos := 0; pos < len(b); {
		if err := d.x.alive(); err != nil {
			return err
		}
		i := bytes.Index(b[pos:], []byte("obj"))
		if i < 0 {
			break
		}
		at := pos + i
		pos = at + 3
		if pos < len(b) && !isPDFSpace(b[pos]) && !isPDFDelim(b[pos]) {
			continue
		}
		n, g, ok := objHeader(b, at)
		if !ok {
			continue
		}
		l := &pdfLexer{b: b, pos: pos}
		o, err := l.object(0)
		if err != nil {
			continue
		}
		if dict, ok := o.(pdfDict); ok {
			save := l.pos
			l.skipSpace()
			if bytes.HasPrefix(b[l.pos:], []byte("stream")) {
				s, end := streamAt(b, l.pos+6, dict)
				s.num, s.gen = n, g
				o, l.pos = s, end
			} else {
				l.pos = save
			}
		}
		d.objs[n] = o
		pos = l.pos
	}
	// The trailer: the last trailer dictionary, else the last
	// cross-reference stream, else a catalog found among the objects.
	if i := bytes.LastIndex(b, []byte("trailer")); i >= 0 {
		l := &pdfLexer{b: b, pos: i + 7}
		if t, err := l.object(0); err == nil {
			d.trailer, _ = t.(pdfDict)
		}
	}
	if d.trailer == nil || d.trailer["Root"] == nil {
		best := -1
		for n, o := range d.objs {
			if s, ok := o.(*pdfStream); ok && s.dict["Type"] == pdfName("XRef") && n > best && s.dict["Root"] != nil {
				best, d.trailer = n, s.dict
			}
		}
	}
	if d.trailer == nil {
		d.trailer = pdfDict{}
	}
	return nil
}

// objHeader reads "num gen " backwards from the "obj" keyword at at.
func objHeader(b []byte, at int) (num, gen int, ok bool) {
	i := at
	digits := func() (int, bool) {
		end := i
		for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' && end-i < 10 {
			i--
		}
		if i == end {
			return 0, false
		}
		v, err := strconv.Atoi(string(b[i:end]))
		return v, err == nil
	}
	spaces := func() bool {
		end := i
		for i > 0 && isPDFSpace(b[i-1]) {
			i--
		}
		return i < end
	}
	if !spaces() {
		return 0, 0, false
	}
	g, ok1 := digits()
	if !ok1 || !spaces() {
		return 0, 0, false
	}
	n, ok2 := digits()
	if !ok2 || (i > 0 && !isPDFSpace(b[i-1]) && !isPDFDelim(b[i-1])) {
		return 0, 0, false
	}
	return n, g, true
}

// streamAt returns the stream whose data starts after the "stream" keyword
// ending at start, and the position after "endstream". /Length is used
// when it is direct and lands on endstream; otherwise endstream is searched.
func streamAt(b []byte, start int, dict pdfDict) (*pdfStream, int) {
	if start < len(b) && b[start] == '\r' {
		start++
	}
	if start < len(b) && b[start] == '\n' {
		start++
	}
	if n, ok := dict["Length"].(float64); ok && n >= 0 && n <= float64(len(b)-start) {
		end := start + int(n)
		rest := bytes.TrimLeft(b[end:min(len(b), end+32)], " \r\n\t\f\x00")
		if bytes.HasPrefix(rest, []byte("endstream")) {
			return &pdfStream{dict: dict, raw: b[start:end]}, end
		}
	}
	i := bytes.Index(b[start:], []byte("endstream"))
	if i < 0 {
		return &pdfStream{dict: dict, raw: b[start:]}, len(b)
	}
	end := start + i
	raw := b[start:end]
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	raw = bytes.TrimSuffix(raw, []byte("\r"))
	return &pdfStream{dict: dict, raw: raw}, end + 9
}

// objectStreams adds the objects held in object streams (PDF 1.5) that
// are not defined directly in the file.
func (d *pdfDoc) objectStreams() error {
	var nums []int
	for n, o := range d.objs {
		if s, ok := o.(*pdfStream); ok && s.dict["Type"] == pdfName("ObjStm") {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	for _, n := range nums {
		s := d.objs[n].(*pdfStream)
		data, err := d.decode(s)
		if err != nil && data == nil {
			if d.x.timedOut != nil || isBudget(err) {
				return err
			}
			continue
		}
		count, first := int(num(d.resolve(s.dict["N"]))), int(num(d.resolve(s.dict["First"])))
		if count <= 0 || first <= 0 || first > len(data) {
			continue
		}
		l := &pdfLexer{b: data[:first]}
		for k := 0; k < count && k < 1<<20; k++ {
			on, err1 := l.object(0)
			off, err2 := l.object(0)
			if err1 != nil || err2 != nil {
				break
			}
			objNum, offset := int(num(on)), int(num(off))
			if _, exists := d.objs[objNum]; exists || offset < 0 || first+offset >= len(data) {
				continue
			}
			ol := &pdfLexer{b: data, pos: first + offset}
			if o, err := ol.object(0); err == nil {
				d.objs[objNum] = o
			}
		}
	}
	return nil
}

func isBudget(err error) bool {
	return err != nil && (errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTimeout))
}

// resolve follows indirect references (a bounded chain).
func (d *pdfDoc) resolve(o any) any {
	for range 8 {
		r, ok := o.(pdfRef)
		if !ok {
			return o
		}
		o = d.objs[r.num]
	}
	return nil
}

// dict resolves o to a dictionary (a stream's dictionary too), or nil.
func (d *pdfDoc) dict(o any) pdfDict {
	switch v := d.resolve(o).(type) {
	case pdfDict:
		return v
	case *pdfStream:
		return v.dict
	}
	return nil
}

// decode returns the decoded data of a stream: decrypted, then through its
// filters (FlateDecode with or without zlib header, ASCIIHexDecode,
// ASCII85Decode, RunLengthDecode). Image filters (DCT, JPX, CCITT, JBIG2)
// and LZW are not decoded. Truncated or damaged Flate data gives what
// could be inflated, with an error.
func (d *pdfDoc) decode(s *pdfStream) ([]byte, error) {
	data := s.raw
	if d.crypt != nil && d.resolve(s.dict["Type"]) != pdfName("XRef") {
		data = d.crypt.decrypt(data, s.num, s.gen)
	}
	var filters []any
	switch f := d.resolve(s.dict["Filter"]).(type) {
	case pdfName:
		filters = []any{f}
	case pdfArray:
		filters = f
	}
	for _, f := range filters {
		name, _ := d.resolve(f).(pdfName)
		var err error
		switch name {
		case "FlateDecode", "Fl":
			data, err = d.inflate(data)
		case "ASCIIHexDecode", "AHx":
			data = (&pdfLexer{b: append(data, '>')}).hex()
		case "ASCII85Decode", "A85":
			data, err = d.ascii85(data)
		case "RunLengthDecode", "RL":
			data, err = d.runLength(data)
		case "Crypt":
		default:
			return nil, fmt.Errorf("pdf: filter %s: %w", name, ErrUnsupported)
		}
		if err != nil {
			return data, err
		}
	}
	return data, nil
}

// inflate decompresses Flate data within the decompression budget.
func (d *pdfDoc) inflate(data []byte) ([]byte, error) {
	var r io.Reader
	if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
		r = zr
	} else {
		r = flate.NewReader(bytes.NewReader(data))
	}
	var out bytes.Buffer
	_, err := io.Copy(&out, &budgetReader{x: d.x, r: r, what: "pdf stream"})
	if err != nil && !isBudget(err) && out.Len() > 0 {
		err = nil // a damaged end: keep what inflated
	}
	if err != nil && !isBudget(err) {
		err = fmt.Errorf("pdf: flate: %v: %w", err, ErrCorrupt)
	}
	return out.Bytes(), err
}

func (d *pdfDoc) ascii85(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(bytes.TrimSpace(data), []byte("<~"))
	if i := bytes.Index(data, []byte("~>")); i >= 0 {
		data = data[:i]
	}
	out := make([]byte, 4*len(data)+4)
	n, _, err := ascii85.Decode(out, data, true)
	if err != nil {
		return out[:n], fmt.Errorf("pdf: ascii85: %v: %w", err, ErrCorrupt)
	}
	return out[:n], d.x.inflate(n, "pdf stream")
}

func (d *pdfDoc) runLength(data []byte) ([]byte, error) {
	var out []byte
	limit := d.x.maxInflate - d.x.inflated
	for i := 0; i < len(data) && data[i] != 128; {
		n := int(data[i])
		i++
		if n < 128 {
			end := min(len(data), i+n+1)
			out = append(out, data[i:end]...)
			i = end
		} else if i < len(data) {
			out = append(out, bytes.Repeat(data[i:i+1], 257-n)...)
			i++
		}
		if d.x.maxInflate > 0 && int64(len(out)) > limit {
			return out, fmt.Errorf("pdf run-length stream decodes past %d bytes: %w", d.x.maxInflate, ErrTooLarge)
		}
	}
	return out, d.x.inflate(len(out), "pdf stream")
}

// page is one page to extract: its content and the resources in force.
type pdfPage struct {
	contents  any
	resources pdfDict
}

// pages walks the page tree from the catalog, inheriting Resources, with
// every node visited once. When there is no usable tree, the objects of
// /Type /Page are taken in object-number order.
func (d *pdfDoc) pages() []pdfPage {
	var out []pdfPage
	seen := map[int]bool{}
	var walk func(o any, res pdfDict, depth int)
	walk = func(o any, res pdfDict, depth int) {
		if depth > pdfMaxTreeDepth || len(out) >= pdfMaxPages || d.x.alive() != nil {
			return
		}
		if r, ok := o.(pdfRef); ok {
			if seen[r.num] {
				return
			}
			seen[r.num] = true
		}
		node := d.dict(o)
		if node == nil {
			return
		}
		if r := d.dict(node["Resources"]); r != nil {
			res = r
		}
		if kids, ok := d.resolve(node["Kids"]).(pdfArray); ok && node["Type"] != pdfName("Page") {
			for _, k := range kids {
				walk(k, res, depth+1)
			}
			return
		}
		out = append(out, pdfPage{contents: node["Contents"], resources: res})
	}
	if root := d.dict(d.trailer["Root"]); root != nil {
		walk(root["Pages"], nil, 0)
	}
	if len(out) > 0 {
		return out
	}
	var nums []int
	for n, o := range d.objs {
		if dict, ok := o.(pdfDict); ok && dict["Type"] == pdfName("Page") {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	for _, n := range nums {
		pg := d.objs[n].(pdfDict)
		res := d.dict(pg["Resources"])
		parent := pg["Parent"]
		for i := 0; res == nil && parent != nil && i < pdfMaxTreeDepth; i++ {
			p := d.dict(parent)
			if p == nil {
				break
			}
			res, parent = d.dict(p["Resources"]), p["Parent"]
		}
		out = append(out, pdfPage{contents: pg["Contents"], resources: res})
	}
	return out
}

// page adds the text of one page: its content streams, concatenated.
func (d *pdfDoc) page(pg pdfPage) error {
	var content []byte
	var parts []any
	switch c := d.resolve(pg.contents).(type) {
	case *pdfStream:
		parts = []any{c}
	case pdfArray:
		parts = c
	}
	for _, p := range parts {
		s, ok := d.resolve(p).(*pdfStream)
		if !ok {
			continue
		}
		data, err := d.decode(s)
		if isBudget(err) {
			return err
		}
		content = append(content, data...)
		content = append(content, '\n')
	}
	ip := newPDFInterp(d)
	return ip.run(content, pg.resources, 0)
}
