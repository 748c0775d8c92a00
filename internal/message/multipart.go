package message

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
)

// entityCtx locates one MIME entity (RFC 2045 section 2.4) in the raw message.
type entityCtx struct {
	start, end int    // header start and entity end in raw
	prefix     string // path of the entity itself ("" for the message), for its children and header defects
	leaf       string // path the entity gets if it is a leaf
	depth      int
	top        bool   // the message itself
	message    bool   // the entity is a message (top, or inside message/rfc822)
	defType    string // media type when Content-Type is absent or invalid
}

// entityInfo is what the Content-* fields of an entity say.
type entityInfo struct {
	mediaType   string
	charset     string
	boundary    string
	name        string // Content-Type name parameter
	disposition string
	filename    string // Content-Disposition filename parameter
	cte         string
	cid         string
}

func joinPath(prefix string, i int) string {
	if prefix == "" {
		return strconv.Itoa(i)
	}
	return prefix + "." + strconv.Itoa(i)
}

// isMessageType reports media types whose body is a whole message
// (RFC 2046 section 5.2.1, RFC 6532 section 3.7).
func isMessageType(mt string) bool {
	return mt == "message/rfc822" || mt == "message/global" || mt == "message/news"
}

// validMediaType checks type "/" subtype, both tokens (RFC 2045 section 5.1).
func validMediaType(mt string) bool {
	slash := strings.IndexByte(mt, '/')
	if slash <= 0 || slash == len(mt)-1 {
		return false
	}
	for i := 0; i < len(mt); i++ {
		if i != slash && !isTokenChar(mt[i]) {
			return false
		}
	}
	return true
}

// entity reads one entity: its header, then its body as a leaf, a multipart
// (RFC 2046 section 5.1) or an encapsulated message (section 5.2.1).
func (p *parser) entity(c entityCtx) {
	if p.stopped {
		return
	}
	p.nparts++
	if p.nparts > p.lim.MaxParts {
		p.defect(DefectPartsLimit, c.prefix, "more than "+strconv.Itoa(p.lim.MaxParts)+" parts")
		p.stopped = true
		return
	}
	body := p.header(c.start, c.end, c.prefix, c.message)
	info := p.contentFields(c)
	if c.top {
		p.messageFields()
	}
	mt := info.mediaType
	enc := parseCTE(info.cte)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		switch {
		case info.boundary == "":
			p.defect(DefectMissingBoundary, c.prefix, "")
		case c.depth >= p.lim.MaxDepth:
			p.defect(DefectDepthLimit, c.prefix, "nesting over "+strconv.Itoa(p.lim.MaxDepth))
		case p.multipart(c, body, &info):
			return
		case len(trimSpaceBytes(p.raw[body:c.end])) > 0:
			// An empty body (the headers-only copy a DSN returns) is no
			// more than a leaf of size zero.
			p.defect(DefectBoundaryNotFound, c.prefix, "")
		}
		p.leaf(c, body, &info)
	case isMessageType(mt):
		p.leaf(c, body, &info)
		switch {
		case enc != cteIdentity:
			// RFC 2046 section 5.2.1: only 7bit, 8bit or binary.
			p.defect(DefectEncodedMessage, c.leaf, info.cte)
		case c.depth >= p.lim.MaxDepth:
			p.defect(DefectDepthLimit, c.leaf, "nesting over "+strconv.Itoa(p.lim.MaxDepth))
		default:
			p.entity(entityCtx{start: body, end: c.end, prefix: c.leaf, leaf: c.leaf + ".1",
				depth: c.depth + 1, message: true, defType: "text/plain"})
		}
	default:
		p.leaf(c, body, &info)
	}
}

// contentFields reads the Content-* fields of the entity in p.fields.
func (p *parser) contentFields(c entityCtx) entityInfo {
	var info entityInfo
	var seen [numFieldIDs]bool
	var first [numFieldIDs][]byte
	for _, f := range p.fields {
		id := f.id
		switch id {
		case fContentType, fContentTransferEncoding, fContentDisposition, fContentID:
		default:
			continue
		}
		v := p.raw[f.vStart:f.vEnd]
		if seen[id] {
			if !bytes.Equal(unfold(first[id]), unfold(v)) {
				p.defect(DefectDuplicateField, c.prefix, id.String())
			}
			continue
		}
		seen[id], first[id] = true, v
		switch id {
		case fContentType:
			p.contentType(text(v), c, &info)
		case fContentTransferEncoding:
			s := strings.ToLower(text(v))
			if i := strings.IndexAny(s, " \t;("); i >= 0 {
				s = s[:i]
			}
			info.cte = s
		case fContentDisposition:
			p.contentDisposition(text(v), c, &info)
		case fContentID:
			s := text(v)
			if ids := msgIDs(s); len(ids) > 0 {
				s = ids[0]
			}
			info.cid = s
		}
	}
	if info.mediaType == "" {
		info.mediaType = c.defType
	}
	return info
}

func (p *parser) contentType(s string, c entityCtx, info *entityInfo) {
	mt, junk, ps, bad := splitParams(s, p.params[:0])
	p.params = ps
	mt = strings.ToLower(mt)
	if !validMediaType(mt) {
		p.defect(DefectBadContentType, c.prefix, s)
		mt = ""
	} else if junk || bad {
		p.defect(DefectBadContentType, c.prefix, s)
	}
	info.mediaType = mt
	info.charset = normCharset(p.rawParam(ps, "charset"))
	info.boundary = p.rawParam(ps, "boundary")
	info.name = strings.TrimSpace(p.paramValue(ps, "name", c.leaf))
}

// rawParam returns a parameter that is never RFC 2047/2231-decoded text
// (boundary, charset): the plain value, else the continuation joined as is.
func (p *parser) rawParam(ps []param, name string) string {
	for _, it := range ps {
		if it.name == name && it.section < 0 && !it.ext {
			return it.value
		}
	}
	var b strings.Builder
	for i := 0; i < 64; i++ {
		found := false
		for _, it := range ps {
			if it.name == name && it.section == i {
				b.WriteString(it.value)
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return b.String()
}

func (p *parser) contentDisposition(s string, c entityCtx, info *entityInfo) {
	dt, junk, ps, bad := splitParams(s, p.params[:0])
	p.params = ps
	switch dt = strings.ToLower(dt); dt {
	case "attachment", "inline":
	case "":
		p.defect(DefectBadDisposition, c.prefix, s)
	default:
		dt = "attachment" // RFC 2183 section 2.8: unknown types are attachments
	}
	if dt != "" && (junk || bad) {
		p.defect(DefectBadDisposition, c.prefix, s)
	}
	info.disposition = dt
	info.filename = strings.TrimSpace(p.paramValue(ps, "filename", c.leaf))
}

// multipart splits the body of a multipart entity at its boundary delimiter
// lines (RFC 2046 section 5.1.1) and reads each body part. Preamble and
// epilogue are skipped. It returns false when no delimiter opens a part.
func (p *parser) multipart(c entityCtx, body int, info *entityInfo) bool {
	raw := p.raw[:c.end]
	delim := []byte("--" + info.boundary)
	childType := "text/plain"
	if info.mediaType == "multipart/digest" {
		childType = "message/rfc822"
	}
	partStart := -1
	n := 0
	for pos := body; ; {
		d, next, closing, ok := findDelimiter(raw, body, pos, delim)
		if !ok {
			break
		}
		if partStart >= 0 {
			n++
			p.entity(entityCtx{start: partStart, end: trimBreak(raw, partStart, d),
				prefix: joinPath(c.prefix, n), leaf: joinPath(c.prefix, n),
				depth: c.depth + 1, defType: childType})
			if p.stopped {
				return true
			}
		}
		if closing {
			if partStart < 0 {
				return false
			}
			return true
		}
		partStart, pos = next, next
	}
	if partStart < 0 {
		return false
	}
	p.defect(DefectUnterminatedMultipart, c.prefix, "")
	n++
	p.entity(entityCtx{start: partStart, end: c.end, prefix: joinPath(c.prefix, n),
		leaf: joinPath(c.prefix, n), depth: c.depth + 1, defType: childType})
	return true
}

// findDelimiter finds the next delimiter line at or after pos: "--boundary",
// optionally "--", then blanks, then a line break or the end. It returns the
// offset of the delimiter, the offset of the line after it and whether it is
// the close delimiter.
func findDelimiter(raw []byte, body, pos int, delim []byte) (d, next int, closing, ok bool) {
	for pos < len(raw) {
		k := bytes.Index(raw[pos:], delim)
		if k < 0 {
			return 0, 0, false, false
		}
		d = pos + k
		pos = d + 1
		if d != body && raw[d-1] != '\n' && raw[d-1] != '\r' {
			continue
		}
		e := d + len(delim)
		closing = len(raw)-e >= 2 && raw[e] == '-' && raw[e+1] == '-'
		if closing {
			// Junk after a close delimiter ("--b-->") is tolerated; only a
			// nested boundary extending this one with "--" could clash.
			e += 2
			for e < len(raw) && raw[e] != '\n' && raw[e] != '\r' {
				e++
			}
		}
		for e < len(raw) && isWSP(raw[e]) {
			e++
		}
		switch {
		case e == len(raw):
			return d, e, closing, true
		case raw[e] == '\n':
			return d, e + 1, closing, true
		case raw[e] == '\r':
			if e+1 < len(raw) && raw[e+1] == '\n' {
				return d, e + 2, closing, true
			}
			return d, e + 1, closing, true
		}
	}
	return 0, 0, false, false
}

// trimBreak returns end minus the line break that precedes a delimiter: it
// belongs to the delimiter, not to the part (RFC 2046 section 5.1.1).
func trimBreak(raw []byte, start, end int) int {
	if end > start && raw[end-1] == '\n' {
		end--
		if end > start && raw[end-1] == '\r' {
			end--
		}
	} else if end > start && raw[end-1] == '\r' {
		end--
	}
	return end
}

// leaf decodes and hashes the body of an entity and records it as a Part.
func (p *parser) leaf(c entityCtx, body int, info *entityInfo) {
	enc := parseCTE(info.cte)
	if enc == cteUnknown {
		p.defect(DefectUnknownEncoding, c.leaf, info.cte)
	}
	if info.charset != "" && !knownCharset(info.charset) {
		p.defect(DefectUnknownCharset, c.leaf, info.charset)
	}
	p.sink.reset()
	flags := decodeBody(&p.sink, p.raw[body:c.end], enc)
	if flags&badBase64 != 0 {
		p.defect(DefectBadBase64, c.leaf, "")
	}
	if flags&badQP != 0 {
		p.defect(DefectBadQuotedPrintable, c.leaf, "")
	}
	if flags&badUU != 0 {
		p.defect(DefectBadUUEncode, c.leaf, "")
	}
	var sum [32]byte
	mt := info.mediaType
	filename := info.filename
	if filename == "" {
		filename = info.name
	}
	part := Part{
		Path:        c.leaf,
		ContentType: mt,
		Charset:     info.charset,
		Disposition: info.disposition,
		Filename:    filename,
		ContentID:   info.cid,
		Encoding:    info.cte,
		Size:        p.sink.n,
		SHA256:      hex.EncodeToString(p.sink.h.Sum(sum[:0])),
		BodyOffset:  int64(body),
		BodyLength:  int64(c.end - body),
	}
	part.Attachment = info.disposition == "attachment" || filename != "" || isMessageType(mt) ||
		mt != "text/plain" && mt != "text/html" && !strings.HasPrefix(mt, "multipart/")
	p.msg.Parts = append(p.msg.Parts, part)
}
