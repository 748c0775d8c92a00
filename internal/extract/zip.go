package extract

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// zipDoc is an open OOXML or ODF package.
type zipDoc struct {
	x     *extractor
	zr    *zip.Reader
	files map[string]*zip.File
}

// zipDoc extracts an OOXML or ODF document; claimed is the kind the label
// announced, used in errors when the zip cannot be read.
func (x *extractor) zipDoc(data []byte, claimed string) (string, error) {
	errKind := claimed
	if !isZipKind(errKind) {
		errKind = "unsupported"
	}
	if n, ok := zipEntryCount(data); ok && n > uint64(x.lim.MaxZipFiles) {
		return errKind, fmt.Errorf("zip with %d entries, limit %d: %w", n, x.lim.MaxZipFiles, ErrTooLarge)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errKind == "unsupported" {
			return errKind, fmt.Errorf("unreadable zip: %v: %w", err, ErrUnsupported)
		}
		return errKind, fmt.Errorf("zip: %v: %w", err, ErrCorrupt)
	}
	if len(zr.File) > x.lim.MaxZipFiles {
		return errKind, fmt.Errorf("zip with %d entries, limit %d: %w", len(zr.File), x.lim.MaxZipFiles, ErrTooLarge)
	}
	z := &zipDoc{x: x, zr: zr, files: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		if _, dup := z.files[f.Name]; !dup {
			z.files[f.Name] = f
		}
	}
	kind := z.kind()
	switch kind {
	case "docx":
		err = z.docx()
	case "xlsx":
		err = z.xlsx()
	case "pptx":
		err = z.pptx()
	case "odt", "ods", "odp":
		err = z.odf(kind)
	default:
		if isZipKind(claimed) {
			return claimed, fmt.Errorf("zip without %s content: %w", claimed, ErrCorrupt)
		}
		return "unsupported", fmt.Errorf("zip archive: %w", ErrUnsupported)
	}
	return kind, err
}

// kind recognises the package by its entries: ODF by its mimetype entry,
// OOXML by [Content_Types].xml and the folder of the main part.
func (z *zipDoc) kind() string {
	if f := z.files["mimetype"]; f != nil {
		b, err := z.readSmall("mimetype", 256)
		if err == nil && f.UncompressedSize64 < 256 {
			mt := strings.TrimSpace(string(b))
			switch strings.TrimSuffix(mt, "-template") {
			case "application/vnd.oasis.opendocument.text":
				return "odt"
			case "application/vnd.oasis.opendocument.spreadsheet":
				return "ods"
			case "application/vnd.oasis.opendocument.presentation":
				return "odp"
			}
		}
	}
	if z.files["[Content_Types].xml"] == nil {
		if z.files["content.xml"] != nil && z.files["META-INF/manifest.xml"] != nil {
			return "odt" // ODF without mimetype: read content.xml as text
		}
		return ""
	}
	main := z.officeDocument("")
	switch {
	case main == "" && z.files["word/document.xml"] != nil:
		return "docx"
	case main == "" && z.files["xl/workbook.xml"] != nil:
		return "xlsx"
	case main == "" && z.files["ppt/presentation.xml"] != nil:
		return "pptx"
	case strings.HasPrefix(main, "word/"):
		return "docx"
	case strings.HasPrefix(main, "xl/"):
		return "xlsx"
	case strings.HasPrefix(main, "ppt/"):
		return "pptx"
	}
	return ""
}

// zipEntryCount reads the number of entries from the end of central
// directory record (zip64 too), before archive/zip allocates them all.
func zipEntryCount(b []byte) (uint64, bool) {
	tail := b[max(0, len(b)-(22+65535)):]
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	if i < 0 || len(tail)-i < 22 {
		return 0, false
	}
	n := uint64(binary.LittleEndian.Uint16(tail[i+10:]))
	if n != 0xFFFF || i < 20 || !bytes.HasPrefix(tail[i-20:], []byte("PK\x06\x07")) {
		return n, true
	}
	off := binary.LittleEndian.Uint64(tail[i-20+8:])
	if off > uint64(len(b)) || uint64(len(b))-off < 56 || !bytes.HasPrefix(b[off:], []byte("PK\x06\x06")) {
		return n, true
	}
	return binary.LittleEndian.Uint64(b[off+32:]), true
}

// open opens an entry, reading it through the decompression budget.
func (z *zipDoc) open(name string) (io.ReadCloser, error) {
	f := z.files[name]
	if f == nil {
		return nil, fmt.Errorf("zip entry %s missing: %w", name, ErrCorrupt)
	}
	if int64(f.UncompressedSize64) < 0 || z.x.maxInflate > 0 && int64(f.UncompressedSize64) > z.x.maxInflate-z.x.inflated {
		return nil, fmt.Errorf("zip entry %s declares %d bytes, budget %d: %w", name, f.UncompressedSize64, z.x.maxInflate, ErrTooLarge)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %s: %v: %w", name, err, ErrCorrupt)
	}
	return struct {
		io.Reader
		io.Closer
	}{&budgetReader{x: z.x, r: rc, what: "zip entry " + name}, rc}, nil
}

// readSmall reads a whole entry of at most max bytes.
func (z *zipDoc) readSmall(name string, max int64) ([]byte, error) {
	rc, err := z.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max))
	if err != nil {
		return nil, zipErr(name, err)
	}
	return b, nil
}

// zipErr wraps a read error as ErrCorrupt unless it already says why.
func zipErr(name string, err error) error {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("zip entry %s: %v: %w", name, err, ErrCorrupt)
}

// walk streams the XML tokens of an entry to fn until fn returns false.
// Namespace prefixes are not resolved: fn sees prefix:local names, and the
// formats read here are matched by local name.
func (z *zipDoc) walk(name string, fn func(xml.Token) bool) error {
	rc, err := z.open(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := xml.NewDecoder(rc)
	d.Strict = false
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(label)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(r), nil
	}
	for {
		if err := z.x.alive(); err != nil {
			return err
		}
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return zipErr(name, err)
		}
		if !fn(tok) {
			return nil
		}
	}
}

// rel is one relationship of an OOXML part.
type rel struct{ id, typ, target string }

// rels reads the relationships of an OOXML part ("" for the package),
// with targets resolved to entry names. External targets are left out.
func (z *zipDoc) rels(owner string) []rel {
	name := path.Join(path.Dir(owner), "_rels", path.Base(owner)+".rels")
	if owner == "" {
		name = "_rels/.rels"
	}
	if z.files[name] == nil {
		return nil
	}
	var out []rel
	_ = z.walk(name, func(tok xml.Token) bool {
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			return true
		}
		var r rel
		external := false
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "Id":
				r.id = a.Value
			case "Type":
				r.typ = a.Value
			case "Target":
				r.target = a.Value
			case "TargetMode":
				external = strings.EqualFold(a.Value, "External")
			}
		}
		if !external && r.target != "" {
			if strings.HasPrefix(r.target, "/") {
				r.target = strings.TrimPrefix(r.target, "/")
			} else {
				r.target = path.Join(path.Dir(owner), r.target)
			}
			out = append(out, r)
		}
		return len(out) < z.x.lim.MaxZipFiles
	})
	return out
}

// officeDocument returns the main part named by the package relationships,
// or def.
func (z *zipDoc) officeDocument(def string) string {
	for _, r := range z.rels("") {
		if strings.HasSuffix(r.typ, "/officeDocument") && z.files[r.target] != nil {
			return r.target
		}
	}
	return def
}

// attr returns the value of the attribute with the given local name.
func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
