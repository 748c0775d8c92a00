package spam

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/resguardo/resguardo/internal/extract"
	"github.com/resguardo/resguardo/internal/message"
)

// Bounds of the tokenizer: they keep the work per message small and
// predictable whatever the message holds.
const (
	maxTokens      = 2500     // distinct tokens kept per message
	maxPartText    = 64 << 10 // decoded bytes of one text part that are read
	maxBodyText    = 256 << 10
	maxTextParts   = 8  // text parts read
	maxURLs        = 64 // URLs looked at
	maxWordRunes   = 24 // longer words become a "skip:" token
	minWordRunes   = 2
	maxHeaderBytes = 256 << 10 // of the top-level header section
	maxCJKBigrams  = 400
)

// Tokenize returns the distinct features of msg that the built-in classifier
// counts, in a stable order. Tokens are lowercased and accent-folded
// ("Validación" and "VALIDACION" are the same token) and carry a prefix that
// says where they come from:
//
//	word          a word of the decoded body text (text/plain, and text/html with tags stripped)
//	s:word        a word of the Subject
//	from:, rt:, to:  From / Reply-To / To domains (each full domain and its registered domain)
//	fn:word       a word of the From display name
//	rt:differs    Reply-To domain differs from the From domain
//	url:host      the host (and registered domain) of a URL in the body; url:ip for literal IPs
//	xm:word       X-Mailer / User-Agent words
//	ct:, cs:      top-level Content-Type and the charsets of the text parts
//	rcvd:N        number of Received fields, bucketed (0, 1, 2, 3-4, 5-7, 8+)
//	att:ext       file name extension of an attachment
//	html:only     HTML body without a text/plain alternative
//	spf:, dkim:, dmarc:, dnsbl:listed   the gateway's results from Hints
//
// CJK text (no spaces between words) gives character bigrams. Tokenize never
// fails and never panics, whatever the bytes.
func Tokenize(msg []byte, hints Hints) []string {
	t := newTokenizer()
	t.tokenize(msg, hints)
	return t.list
}

type tokenizer struct {
	seen map[string]struct{}
	list []string
}

func newTokenizer() *tokenizer {
	return &tokenizer{seen: make(map[string]struct{}, 512)}
}

func (t *tokenizer) add(tok string) {
	if len(t.list) >= maxTokens || tok == "" {
		return
	}
	if _, ok := t.seen[tok]; ok {
		return
	}
	t.seen[tok] = struct{}{}
	t.list = append(t.list, tok)
}

func (t *tokenizer) tokenize(raw []byte, h Hints) {
	// Gateway results first: they are few and must never be crowded out.
	for _, kv := range [...][2]string{{"spf:", h.SPF}, {"dkim:", h.DKIM}, {"dmarc:", h.DMARC}} {
		if v := strings.ToLower(strings.TrimSpace(kv[1])); v != "" && len(v) <= 16 {
			t.add(kv[0] + v)
		}
	}
	if h.DNSBLListed {
		t.add("dnsbl:listed")
	}

	fields := topHeader(raw)
	received := 0
	for _, f := range fields {
		switch f.name {
		case "received":
			received++
		case "x-mailer", "user-agent":
			t.text("xm:", f.value, 4)
		case "content-type":
			ct, _, _ := strings.Cut(f.value, ";")
			if ct = strings.ToLower(strings.TrimSpace(ct)); ct != "" && len(ct) <= 64 {
				t.add("ct:" + ct)
			}
		}
	}
	t.add("rcvd:" + bucket(received))

	m := message.Parse(raw, message.Limits{MaxHeaderBytes: maxHeaderBytes, MaxParts: 200, MaxDepth: 16})
	fromDom := ""
	if len(m.From) == 0 || m.From[0].Address == "" {
		t.add("from:none")
	} else {
		fromDom = domainOf(m.From[0].Address)
		t.domain("from:", fromDom)
		t.text("fn:", m.From[0].Name, 6)
	}
	for i, a := range m.ReplyTo {
		if i == 4 {
			break
		}
		d := domainOf(a.Address)
		t.domain("rt:", d)
		if d != "" && fromDom != "" && registered(d) != registered(fromDom) {
			t.add("rt:differs")
		}
	}
	for i, a := range m.To {
		if i == 4 {
			break
		}
		t.domain("to:", domainOf(a.Address))
	}
	subj := strings.TrimSpace(m.Subject)
	if subj == "" {
		t.add("s:empty")
	} else {
		if isShouting(subj) {
			t.add("s:shouting")
		}
		t.text("s:", subj, 40)
	}

	// Body text and URLs.
	var texts []string
	total, nparts, hasPlain, hasHTML := 0, 0, false, false
	urls := 0
	for _, p := range m.Parts {
		if p.Attachment {
			if ext := extOf(p.Filename); ext != "" {
				t.add("att:" + ext)
			} else if p.ContentType != "" && len(p.ContentType) <= 64 {
				t.add("att:" + p.ContentType)
			}
			continue
		}
		if p.ContentType != "text/plain" && p.ContentType != "text/html" {
			continue
		}
		if nparts >= maxTextParts || total >= maxBodyText {
			continue
		}
		nparts++
		if p.Charset != "" && len(p.Charset) <= 32 {
			t.add("cs:" + p.Charset)
		}
		body, err := message.DecodePart(raw, p)
		if err != nil {
			continue
		}
		if len(body) > maxPartText {
			body = body[:maxPartText]
		}
		total += len(body)
		s := message.DecodeText(body, p.Charset)
		if p.ContentType == "text/html" {
			hasHTML = true
			urls = t.urls(s, urls)
			s = extract.HTML([]byte(s))
		} else {
			hasPlain = true
			urls = t.urls(s, urls)
		}
		texts = append(texts, s)
	}
	if hasHTML && !hasPlain {
		t.add("html:only")
	}
	t.add("urls:" + bucket(urls))
	for _, s := range texts {
		t.text("", s, 0)
	}
}

// bucket groups a count: 0, 1, 2, 3-4, 5-7, 8+.
func bucket(n int) string {
	switch {
	case n <= 2:
		return strconv.Itoa(n)
	case n <= 4:
		return "3-4"
	case n <= 7:
		return "5-7"
	default:
		return "8+"
	}
}

// domain adds prefix+d and prefix+registered domain of d.
func (t *tokenizer) domain(prefix, d string) {
	if d == "" {
		return
	}
	t.add(prefix + d)
	if r := registered(d); r != d {
		t.add(prefix + r)
	}
}

func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return cleanHost(addr[i+1:])
}

// cleanHost lowercases a host name and rejects what cannot be one.
func cleanHost(h string) string {
	h = strings.ToLower(strings.Trim(h, ".[] \t"))
	if h == "" || len(h) > 253 {
		return ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':') {
			return ""
		}
	}
	return h
}

// registered returns the registered domain (eTLD+1) of host, or host itself.
func registered(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	if r, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return r
	}
	return host
}

func extOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || len(name)-i-1 > 8 || i == len(name)-1 {
		return ""
	}
	ext := strings.ToLower(name[i+1:])
	for _, r := range ext {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return ""
		}
	}
	return ext
}

// isShouting reports a subject written mostly in capitals.
func isShouting(s string) bool {
	up, letters := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				up++
			}
		}
	}
	return letters >= 8 && up*10 >= letters*8
}

// urls adds the hosts of URLs found in s and returns the updated count.
func (t *tokenizer) urls(s string, n int) int {
	lower := strings.ToLower(s)
	// attempts bounds the scans (each looks ahead for the next URL) when
	// the text is full of things that look like URLs but are not.
	for pos, attempts := 0, 0; n < maxURLs && attempts < 4*maxURLs; attempts++ {
		i := indexURL(lower[pos:])
		if i < 0 {
			break
		}
		start := pos + i
		rest := lower[start:]
		switch {
		case strings.HasPrefix(rest, "https://"):
			rest = rest[8:]
		case strings.HasPrefix(rest, "http://"):
			rest = rest[7:]
		}
		end := strings.IndexAny(rest, "/?#\"'<> \t\r\n)]\\,;")
		if end < 0 {
			end = len(rest)
		}
		host := rest[:end]
		pos = len(lower) - len(rest) + end
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if h, _, ok := strings.Cut(host, ":"); ok && !strings.Contains(h, "[") {
			host = h
		}
		host = cleanHost(host)
		if host == "" || !strings.Contains(host, ".") {
			continue
		}
		n++
		if _, err := netip.ParseAddr(host); err == nil {
			t.add("url:ip")
			continue
		}
		t.domain("url:", host)
	}
	return n
}

// indexURL finds the next "http://", "https://" or "www." in lowercased s.
func indexURL(s string) int {
	best := -1
	for _, p := range [...]string{"http://", "https://", "www."} {
		if i := strings.Index(s, p); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// folder removes accents: NFKD, drop nonspacing marks, NFC. NFKD also maps
// compatibility forms (full-width letters, ligatures) to plain ones.
var folderChain = func() transform.Transformer {
	return transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

// fold lowercases and accent-folds s.
func fold(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	out, _, err := transform.String(folderChain(), s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '$' || r == '€'
}

// text adds the words of folded s; max bounds the number of words (0: no bound).
func (t *tokenizer) text(prefix, s string, max int) {
	s = strings.ToValidUTF8(s, " ")
	s = fold(s)
	count := 0
	bigrams := 0
	var prevCJK rune = -1
	start := -1 // byte offset of the current word, -1 outside a word
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := strings.Trim(s[start:end], "-.'_")
		start = -1
		if w == "" {
			return
		}
		if w = t.shape(w); w != "" {
			count++
			t.add(prefix + w)
		}
	}
	for i, r := range s {
		if max > 0 && count >= max {
			return
		}
		if len(t.list) >= maxTokens {
			return
		}
		if isCJK(r) {
			flush(i)
			if prevCJK >= 0 && bigrams < maxCJKBigrams {
				bigrams++
				count++
				t.add(prefix + string(prevCJK) + string(r))
			}
			prevCJK = r
			continue
		}
		prevCJK = -1
		switch {
		case isWordRune(r):
			if start < 0 {
				start = i
			}
		case (r == '-' || r == '.' || r == '\'' || r == '_') && start >= 0:
			// inside a word: "e-mail", "v2.1", "d'or"
		default:
			flush(i)
		}
	}
	flush(len(s))
}

// shape maps a word to its token: itself, or a class for numbers and
// over-long strings (hashes, base64 debris) that would never repeat.
func (t *tokenizer) shape(w string) string {
	n := utf8.RuneCountInString(w)
	if n < minWordRunes {
		return ""
	}
	digits := 0
	for i := 0; i < len(w); i++ {
		if w[i] >= '0' && w[i] <= '9' {
			digits++
		}
	}
	if digits == len(w) && n > 4 {
		return "num:" + strconv.Itoa(min(n, 12))
	}
	if n > maxWordRunes {
		r, _ := utf8.DecodeRuneInString(w)
		return "skip:" + string(r) + ":" + strconv.Itoa(min(n/10*10, 100))
	}
	return w
}

// field is one top-level header field: lowercased name and unfolded value.
type field struct {
	name, value string
}

// topHeader returns the fields of the top-level header section (up to the
// first empty line), bounded by maxHeaderBytes. LF, CRLF and bare CR all end
// lines.
func topHeader(raw []byte) []field {
	if len(raw) > maxHeaderBytes {
		raw = raw[:maxHeaderBytes]
	}
	var out []field
	var cur []byte
	have := false
	emit := func() {
		if !have {
			return
		}
		have = false
		name, value, ok := bytes.Cut(cur, []byte(":"))
		if !ok || len(name) == 0 || len(name) > 76 || bytes.ContainsAny(name, " \t") {
			return
		}
		v := strings.TrimSpace(strings.ToValidUTF8(string(value), "\uFFFD"))
		out = append(out, field{name: strings.ToLower(string(name)), value: v})
	}
	for len(raw) > 0 {
		end := bytes.IndexAny(raw, "\r\n")
		var line []byte
		if end < 0 {
			line, raw = raw, nil
		} else {
			line = raw[:end]
			if raw[end] == '\r' && end+1 < len(raw) && raw[end+1] == '\n' {
				raw = raw[end+2:]
			} else {
				raw = raw[end+1:]
			}
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if have {
				cur = append(cur, ' ')
				cur = append(cur, bytes.TrimLeft(line, " \t")...)
			}
			continue
		}
		if len(out) == 0 && !have && bytes.HasPrefix(line, []byte("From ")) {
			continue // mbox From_ line
		}
		emit()
		cur = append(cur[:0], line...)
		have = true
		if len(out) >= 2000 {
			break
		}
	}
	emit()
	return out
}
