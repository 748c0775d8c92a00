package webapp

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/microcosm-cc/bluemonday/css"
	"golang.org/x/net/html"

	"github.com/resguardo/resguardo/internal/message"
)

// The HTML body of a message is shown in a sandboxed iframe under BodyCSP (no
// script, nothing remote): that alone makes it inert. Sanitizing is the second
// layer: what reaches the frame is mail markup from an allowlist (bluemonday),
// so a browser bug in the sandbox or a CSP mistake still finds nothing to run.
// The archived bytes are never changed: the raw download, the constancia and
// the hashes keep the original.

// maxInlineImages bounds the decoded bytes of the cid: images (RFC 2392) that
// one body embeds as data: URLs; images past it are not shown.
const maxInlineImages = 10 << 20

// bodyStyle is the frame's own style sheet (BodyCSP allows inline styles): a
// blocked remote image is a dotted box the size it was meant to have.
const bodyStyle = `body{margin:.5rem;overflow-wrap:anywhere}img{max-width:100%;height:auto}` +
	`img.remota{display:inline-block;min-width:2.5em;min-height:1.5em;border:2px dotted #8a94a6;background:#f4f5f7;color:#5b6475;font-size:.85em}`

// mailStyles are the CSS properties kept in style attributes, each value
// checked by bluemonday's validator for the property and by safeCSS. No
// position, z-index, top/left or transform (no overlays over the page), no
// background shorthand or images, no content, cursor, filter or animation.
var mailStyles = []string{
	"color", "background-color",
	"font", "font-family", "font-size", "font-style", "font-weight", "font-variant",
	"text-align", "text-decoration", "text-indent", "text-transform",
	"letter-spacing", "word-spacing", "line-height", "white-space", "word-break", "word-wrap", "overflow-wrap",
	"vertical-align", "display", "float", "clear", "direction",
	"width", "height", "max-width", "min-width", "max-height", "min-height",
	"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
	"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
	"border", "border-top", "border-right", "border-bottom", "border-left",
	"border-color", "border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
	"border-top-color", "border-top-style", "border-top-width", "border-right-color", "border-right-style", "border-right-width",
	"border-bottom-color", "border-bottom-style", "border-bottom-width", "border-left-color", "border-left-style", "border-left-width",
	"table-layout", "empty-cells", "caption-side",
	"list-style", "list-style-type", "list-style-position",
}

// unsafeCSS matches what no kept style value may hold, whatever its property's
// validator says: URLs and image functions, IE's expression(), CSS escapes,
// comments, at-rules, variables.
var unsafeCSS = regexp.MustCompile(`(?i)url\s*\(|image\s*\(|image-set|expression|javascript|vbscript|behavior|binding|[\\@<>]|/\*|var\s*\(|attr\s*\(|env\s*\(`)

// mailElements are the elements kept (with only the attributes allowed below).
// Everything else goes, keeping its text, except the elements whose content is
// never shown (script, style, title, iframe, object, noscript…, and svg, math,
// template, select, textarea here). <style> elements are dropped with their
// rules: only style attributes carry formatting.
var mailElements = []string{
	"p", "div", "span", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
	"b", "i", "u", "s", "strike", "strong", "em", "small", "big", "sub", "sup", "mark", "font", "center",
	"blockquote", "pre", "code", "tt", "kbd", "samp", "var", "q", "cite", "abbr", "address", "del", "ins", "wbr",
	"ul", "ol", "li", "dl", "dt", "dd",
	"table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "td", "th",
	"a", "img", "section", "article", "header", "footer", "main", "aside", "nav", "figure", "figcaption",
}

var (
	reColor   = regexp.MustCompile(`^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$`)
	reSize    = regexp.MustCompile(`^[0-9]{1,5}(\.[0-9]{1,3})?(%|px)?$`)
	reInt     = regexp.MustCompile(`^[0-9]{1,4}$`)
	reAlign   = regexp.MustCompile(`(?i)^(left|right|center|justify|top|middle|bottom|baseline|absmiddle|texttop|absbottom)$`)
	reVAlign  = regexp.MustCompile(`(?i)^(top|middle|bottom|baseline)$`)
	reDir     = regexp.MustCompile(`(?i)^(ltr|rtl|auto)$`)
	reLang    = regexp.MustCompile(`^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$`)
	reToken   = regexp.MustCompile(`^[\p{L}\p{N}_:.\- ]{1,200}$`)
	reFace    = regexp.MustCompile(`^[\p{L}\p{N} ,'"_\-]{1,200}$`)
	reFontSz  = regexp.MustCompile(`^[+-]?[1-7]$`)
	reText    = regexp.MustCompile(`^[^<>]{0,500}$`)
	reCite    = regexp.MustCompile(`(?i)^cite$`)
	reList    = regexp.MustCompile(`(?i)^(circle|disc|square|a|i|1)$`)
	reNoValue = regexp.MustCompile(`(?i)^(|nowrap|noshade)$`)
)

// newMailPolicy is the allowlist of mail HTML: the formatting newsletters and
// oficios use (tables with their layout attributes, fonts, lists, quotes,
// links, images) and nothing that runs, loads or submits.
func newMailPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements(mailElements...)
	p.SkipElementsContent("svg", "math", "template")
	p.AddSpaceWhenStrippingTag(true)

	p.AllowAttrs("class", "id").Matching(reToken).Globally()
	p.AllowAttrs("dir").Matching(reDir).Globally()
	p.AllowAttrs("lang").Matching(reLang).Globally()
	p.AllowAttrs("title").Matching(reText).Globally()
	p.AllowAttrs("align").Matching(reAlign).Globally()
	p.AllowAttrs("valign").Matching(reVAlign).Globally()
	p.AllowAttrs("width", "height").Matching(reSize).Globally()
	p.AllowAttrs("bgcolor").Matching(reColor).Globally()
	p.AllowAttrs("border", "cellpadding", "cellspacing").Matching(reInt).OnElements("table", "img")
	p.AllowAttrs("colspan", "rowspan").Matching(reInt).OnElements("td", "th")
	p.AllowAttrs("span").Matching(reInt).OnElements("col", "colgroup")
	p.AllowAttrs("nowrap").Matching(reNoValue).OnElements("td", "th")
	p.AllowAttrs("noshade").Matching(reNoValue).OnElements("hr")
	p.AllowAttrs("size").Matching(reInt).OnElements("hr")
	p.AllowAttrs("color").Matching(reColor).OnElements("font", "hr")
	p.AllowAttrs("size").Matching(reFontSz).OnElements("font")
	p.AllowAttrs("face").Matching(reFace).OnElements("font")
	p.AllowAttrs("type").Matching(reCite).OnElements("blockquote")
	p.AllowAttrs("type").Matching(reList).OnElements("ol", "ul", "li")
	p.AllowAttrs("start", "value").Matching(reInt).OnElements("ol", "li")
	p.AllowAttrs("alt").Matching(reText).OnElements("img")
	p.AllowAttrs("hspace", "vspace").Matching(reInt).OnElements("img")
	p.AllowAttrs("src").OnElements("img")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("name").Matching(reToken).OnElements("a")

	for _, prop := range mailStyles {
		valid := css.GetDefaultHandler(prop)
		p.AllowStyles(prop).MatchingHandler(func(v string) bool { return !unsafeCSS.MatchString(v) && valid(v) }).Globally()
	}

	// URLs (img src and a href, the only ones allowed) must parse and be of
	// these schemes or relative; rewrite then keeps only http, https and
	// mailto links, resolves cid: images, keeps raster data: images and
	// blocks every other image (relative ones, which would point into this
	// origin, and protocol-relative ones included).
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.AllowDataURIImages()
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(true)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true) // with rel="noopener"
	return p
}

// sanitizer cleans mail HTML for the body frame: the policy, then rewrite.
// It is safe for concurrent use.
type sanitizer struct {
	policy *bluemonday.Policy
}

func newSanitizer() *sanitizer { return &sanitizer{policy: newMailPolicy()} }

// cleanBody is a sanitized HTML body.
type cleanBody struct {
	html   string // the markup of the body, a fragment
	remote int    // remote images blocked
}

// cidResolver turns the Content-ID of a cid: URL into the data: URL of the
// message's image part, or "" when it names no image part of the message.
type cidResolver func(cid string) string

// clean sanitizes src (UTF-8 HTML, a fragment or a document). cid may be nil:
// cid: images are then dropped (the count of remote images is the same).
func (s *sanitizer) clean(src string, cid cidResolver) cleanBody {
	return rewrite(s.policy.Sanitize(src), cid)
}

// ownDataImage is a data: URL the policy kept (base64, checked) of a raster type.
var ownDataImage = regexp.MustCompile(`(?i)^data:image/(png|jpeg|gif|webp);base64,`)

// rewrite is the second pass over the policy's output, which only touches the
// img and a start tags: a remote image (http, https or a relative URL) loses
// its src, keeping its alt and size, gets the class "remota" and is counted; a cid: image becomes the
// data: URL of the message's part or loses its src; an own data: image keeps
// it only for a raster type; a link keeps only an http, https or mailto href.
// Everything else is copied byte for byte.
func rewrite(in string, cid cidResolver) cleanBody {
	var out cleanBody
	var b strings.Builder
	b.Grow(len(in))
	z := html.NewTokenizer(strings.NewReader(in))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			b.Write(z.Raw())
			continue
		}
		raw := string(z.Raw())
		tok := z.Token()
		switch tok.Data {
		case "img":
			if imgSrc(&tok, cid) {
				out.remote++
			}
		case "a":
			tok.Attr = keepAttr(tok.Attr, "href", func(v string) bool {
				s := strings.ToLower(v)
				return strings.HasPrefix(s, "http:") || strings.HasPrefix(s, "https:") || strings.HasPrefix(s, "mailto:")
			})
			for i, a := range tok.Attr {
				if a.Key == "href" && !strings.HasPrefix(strings.ToLower(a.Val), "mailto:") {
					// A web link opens, in a new tab, the page that shows where
					// it really goes (/enlace) before anyone follows it.
					tok.Attr[i].Val = LinkPath + "?u=" + url.QueryEscape(a.Val)
				}
			}
		default:
			b.WriteString(raw)
			continue
		}
		b.WriteString(tok.String())
	}
	out.html = b.String()
	return out
}

// imgSrc rewrites an img's src; true when it was a remote image.
func imgSrc(tok *html.Token, cid cidResolver) (remote bool) {
	var attrs []html.Attribute
	for _, a := range tok.Attr {
		if a.Key != "src" {
			attrs = append(attrs, a)
			continue
		}
		v := strings.ToLower(a.Val)
		switch {
		case strings.HasPrefix(v, "cid:"):
			if cid != nil {
				if u := cid(a.Val[len("cid:"):]); u != "" {
					attrs = append(attrs, html.Attribute{Key: "src", Val: u})
				}
			}
		case strings.HasPrefix(v, "data:"):
			if ownDataImage.MatchString(a.Val) {
				attrs = append(attrs, a)
			}
		default: // http, https or relative: the policy allows no other scheme
			remote = true
		}
	}
	if remote {
		class := "remota"
		for i, a := range attrs {
			if a.Key == "class" {
				attrs[i].Val = strings.TrimSpace(a.Val + " " + class)
				class = ""
			}
		}
		if class != "" {
			attrs = append(attrs, html.Attribute{Key: "class", Val: class})
		}
	}
	tok.Attr = attrs
	return remote
}

// keepAttr drops attribute key unless ok accepts its value.
func keepAttr(attrs []html.Attribute, key string, ok func(string) bool) []html.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if a.Key != key || ok(a.Val) {
			out = append(out, a)
		}
	}
	return out
}

// bodyDocument wraps a sanitized body in the document the frame loads.
func bodyDocument(body string) string {
	return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Mensaje</title><style>" + bodyStyle +
		"</style></head><body>\n" + body + "\n</body></html>\n"
}

// decodeHTML is an HTML body part as UTF-8: the part's transfer encoding
// undone, then its charset — the Content-Type's, else the one its <meta>
// declares, else UTF-8 when the bytes are valid and windows-1252 otherwise
// (message.DecodeText). A Content-Type charset wins over <meta>, as an HTTP
// header does.
func decodeHTML(raw []byte, p message.Part) string {
	b, _ := message.DecodePart(raw, p)
	cs := p.Charset
	if cs == "" {
		cs = metaCharset(b)
	}
	return message.DecodeText(b, cs)
}

// metaCharset is the charset that a <meta charset> or <meta http-equiv=
// "Content-Type"> in the first 1024 bytes of an HTML document declares ("" when
// none), as the HTML prescan reads it; UTF-16 is read as UTF-8, as the HTML
// standard says for a declaration in 8-bit bytes.
func metaCharset(b []byte) string {
	if len(b) > 1024 {
		b = b[:1024]
	}
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data != "meta" {
				continue
			}
			var cs, equiv, content string
			for _, a := range tok.Attr {
				switch a.Key {
				case "charset":
					cs = a.Val
				case "http-equiv":
					equiv = a.Val
				case "content":
					content = a.Val
				}
			}
			if cs == "" && strings.EqualFold(strings.TrimSpace(equiv), "content-type") {
				if _, params, err := mime.ParseMediaType(content); err == nil {
					cs = params["charset"]
				}
			}
			cs = strings.ToLower(strings.TrimSpace(cs))
			if strings.HasPrefix(cs, "utf-16") {
				return "utf-8"
			}
			if cs != "" {
				return cs
			}
		}
	}
}

// inlineImages resolves cid: URLs against the message's parts (their
// Content-ID, RFC 2392: the URL percent-decoded, compared exactly, then
// without regard to case). Only a part declared image/* whose bytes are PNG,
// JPEG, GIF, WebP or BMP becomes a data: URL (of the sniffed type), up to
// maxInlineImages decoded bytes for the whole body; a cid naming any other
// part is not rendered.
func inlineImages(raw []byte, m *message.Message) cidResolver {
	exact, folded := map[string]message.Part{}, map[string]message.Part{}
	for _, p := range m.Parts {
		if p.ContentID == "" {
			continue
		}
		if _, ok := exact[p.ContentID]; !ok {
			exact[p.ContentID] = p
		}
		if k := strings.ToLower(p.ContentID); folded[k].Path == "" {
			folded[k] = p
		}
	}
	budget := int64(maxInlineImages)
	done := map[string]string{} // data: URL by part path
	return func(ref string) string {
		id, err := url.PathUnescape(ref)
		if err != nil {
			id = ref
		}
		id = strings.Trim(strings.TrimSpace(id), "<>")
		p, ok := exact[id]
		if !ok {
			p, ok = folded[strings.ToLower(id)]
		}
		if !ok || !strings.HasPrefix(p.ContentType, "image/") {
			return ""
		}
		if u, ok := done[p.Path]; ok {
			return u
		}
		if p.Size > budget {
			return ""
		}
		b, err := message.DecodePart(raw, p)
		if err != nil || int64(len(b)) > budget {
			return ""
		}
		ct := http.DetectContentType(b)
		switch ct {
		case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		default:
			return ""
		}
		budget -= int64(len(b))
		u := "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(b)
		done[p.Path] = u
		return u
	}
}
