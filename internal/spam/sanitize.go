package spam

import (
	"bytes"
	"regexp"
	"strings"
)

// dropFields are header fields removed by CorpusSanitize: upstream filters'
// verdicts (which would hand the answer to every engine), mailing-list
// machinery and delivery traces of the archive, which differ between the
// corpus's ham lists and its spam list for reasons that have nothing to do
// with spam.
var dropFields = map[string]bool{
	"x-spam-score": true, "x-spam-report": true, "x-spam-status": true, "x-spam-flag": true,
	"x-spam-level": true, "x-spam-checker-version": true, "x-va-spam-flag": true, "x-spam": true,
	"x-spam-tests": true, "x-spam-checked": true,
	"list-id": true, "list-unsubscribe": true, "list-subscribe": true, "list-post": true,
	"list-help": true, "list-archive": true, "list-owner": true, "list-unsubscribe-post": true,
	"x-beenthere": true, "x-mailman-version": true, "precedence": true, "errors-to": true,
	"sender": true, "x-original-to": true, "delivered-to": true, "return-path": true,
	"x-original-sender": true, "x-original-authentication-results": true, "mailing-list": true,
	"x-google-group-id": true, "x-mailing-list": true, "x-loop": true, "x-list": true,
}

// List footers appended by Mailman, Google Groups and vger (plain text only).
var footerRes = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^_{20,}\r?\n[^\r\n]{0,80}mailing list\r?\n[^\r\n]{0,120}\r?\nhttps?://[^\r\n]{0,200}\r?\n?`),
	regexp.MustCompile(`(?s)You received this message because you are subscribed to the Google Groups.{0,800}?(groups\.google\.com/[^\s<>"]*|optout\.?)`),
	regexp.MustCompile(`(?m)^To unsubscribe from this list: send the line "unsubscribe [^"\r\n]{1,40}" in\r?\nthe body of a message to majordomo@[^\r\n]{1,60}\r?\n(More majordomo info at[^\r\n]{0,100}\r?\n)?`),
}

// listTag matches a leading "[Listname]" or "[SPAM]" tag of a Subject.
var listTag = regexp.MustCompile(`^((Re|RE|Fwd|FW|Fw|AW|RV|RES):\s*)*\[[A-Za-z0-9._-]{1,40}\]\s*`)

// CorpusSanitize rewrites a message of the shared corpus so that an
// evaluation measures spam detection rather than the origin of the corpus:
// the corpus's ham comes from public mailing lists and its spam mostly from
// one list that receives only spam, so list addresses, list tags and footers,
// archive delivery headers and the verdicts of upstream filters would give
// the answer away. It removes the fields in dropFields, replaces To and Cc
// with one neutral recipient (at a real gateway every message is addressed
// to the same organisation), strips a leading list tag from the Subject
// ("[Osst-users]", "[SPAM]"), and cuts the usual list footers from the body.
// The rest (Received chain, body, attachments) is kept byte for byte.
// What remains of the corpus bias is described in docs/QUALITY.md.
func CorpusSanitize(msg []byte) []byte {
	nl := []byte("\n")
	if i := bytes.IndexByte(msg, '\n'); i > 0 && msg[i-1] == '\r' {
		nl = []byte("\r\n")
	}
	// Header end: the first empty line (LF or CRLF).
	end, bodyStart := -1, len(msg)
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			break
		}
		line := bytes.TrimRight(msg[i:i+j], "\r")
		if len(line) == 0 {
			end, bodyStart = i, i+j+1
			break
		}
		i += j + 1
	}
	if end < 0 {
		return msg
	}
	header, body := msg[:end], msg[bodyStart:]
	out := make([]byte, 0, len(msg))
	wroteTo := false
	var cur []byte
	flush := func() {
		if len(cur) == 0 {
			return
		}
		name, value, _ := bytes.Cut(cur, []byte(":"))
		lname := strings.ToLower(strings.TrimSpace(string(name)))
		switch {
		case dropFields[lname]:
		case lname == "to" || lname == "cc":
			if !wroteTo {
				out = append(out, "To: recipient@corpus.invalid"...)
				out = append(out, nl...)
				wroteTo = true
			}
		case lname == "subject":
			v := strings.TrimLeft(string(value), " \t")
			for k := 0; k < 3; k++ {
				loc := listTag.FindStringSubmatchIndex(v)
				if loc == nil {
					break
				}
				if loc[3] < 0 {
					v = v[loc[1]:]
				} else {
					v = v[:loc[3]] + v[loc[1]:] // keep "Re: "
				}
			}
			out = append(out, "Subject: "...)
			out = append(out, v...)
		default:
			out = append(out, cur...)
		}
		cur = cur[:0]
	}
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(cur) > 0 {
			cur = append(cur, line...)
			continue
		}
		flush()
		cur = append(cur, line...)
	}
	flush()
	out = append(out, nl...)
	for _, re := range footerRes {
		body = re.ReplaceAll(body, nil)
	}
	return append(out, body...)
}
