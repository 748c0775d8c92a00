package extract

import (
	"strings"

	"github.com/resguardo/resguardo/internal/message"
)

// message adds the text of an RFC 5322 message: its subject, then the text
// of each part in order. Text parts are charset-decoded (message.DecodeText:
// WHATWG labels, then IANA, via golang.org/x/text); an HTML body is skipped
// when a plain-text sibling (multipart/alternative) says the same;
// attachments go through extract like any file, with their errors dropped
// (the message itself was read). Encapsulated messages (message/rfc822,
// message/global) are read recursively up to MaxDepth levels; deeper ones
// are left out and Result.Truncated is set (see extract). depth is the
// nesting of data.
func (x *extractor) message(data []byte, depth int) error {
	m := message.Parse(data, message.Limits{})
	if m.Subject != "" {
		x.out.WriteString(m.Subject)
		x.out.newline()
	}
	var nested []string // paths of encapsulated messages: their parts are read with them
	inNested := func(p string) bool {
		for _, n := range nested {
			if strings.HasPrefix(p, n+".") {
				return true
			}
		}
		return false
	}
	plainSibling := map[string]bool{} // parent paths holding a plain-text body
	for _, p := range m.Parts {
		if p.ContentType == "text/plain" && !p.Attachment {
			plainSibling[parentPath(p.Path)] = true
		}
	}
	for _, p := range m.Parts {
		if x.out.full() {
			return nil
		}
		if err := x.checkNow(); err != nil {
			return err
		}
		if inNested(p.Path) {
			continue
		}
		isMsg := p.ContentType == "message/rfc822" || p.ContentType == "message/global"
		if isMsg {
			nested = append(nested, p.Path)
		}
		if p.ContentType == "text/html" && !p.Attachment && plainSibling[parentPath(p.Path)] {
			continue
		}
		body, err := message.DecodePart(data, p)
		if err != nil || len(body) == 0 {
			continue
		}
		x.out.newline()
		switch {
		case isMsg:
			if _, err := x.extract(body, "message/rfc822", p.Filename, depth+1); err != nil && x.timedOut != nil {
				return err
			}
		case !p.Attachment && p.ContentType == "text/html":
			if err := x.html([]byte(message.DecodeText(body, p.Charset))); err != nil {
				return err
			}
		case !p.Attachment && strings.HasPrefix(p.ContentType, "text/"):
			x.out.WriteString(message.DecodeText(body, p.Charset))
		default:
			if strings.HasPrefix(p.ContentType, "text/") && p.Charset != "" {
				body = []byte(message.DecodeText(body, p.Charset))
			}
			if _, err := x.extract(body, p.ContentType, p.Filename, depth+1); err != nil && x.timedOut != nil {
				return err
			}
		}
	}
	return nil
}

// parentPath returns the IMAP part number of the container of path p.
func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}
