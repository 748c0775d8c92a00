package search

import (
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/es"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/regexp"
	"github.com/blevesearch/bleve/v2/mapping"
)

const (
	analyzerText  = "resguardo_es"    // Spanish: lowercase, stop words, accent folding, light stemmer
	analyzerParts = "resguardo_parts" // addresses and file names split into words, accents folded
	// maxStored bounds the text kept for snippets per field.
	maxStored = 64 << 10
)

func indexMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomTokenizer("resguardo_words", map[string]any{
		"type": regexp.Name, "regexp": `[\p{L}\p{N}]+`, // "_" splits words: setup_irq, acta_sesion.pdf
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(analyzerParts, map[string]any{
		"type": custom.Name, "tokenizer": "resguardo_words",
		"token_filters": []string{lowercase.Name, es.NormalizeName},
	}); err != nil {
		return nil, err
	}
	if err := im.AddCustomAnalyzer(analyzerText, map[string]any{
		"type": custom.Name, "tokenizer": "resguardo_words",
		"token_filters": []string{lowercase.Name, es.StopName, es.NormalizeName, es.LightStemmerName},
	}); err != nil {
		return nil, err
	}
	dm := bleve.NewDocumentStaticMapping()
	text := func(name string, store bool) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerText
		f.Store = store
		f.IncludeTermVectors = store
		dm.AddFieldMappingsAt(name, f)
	}
	parts := func(name string) {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerParts
		f.Store = false
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(name, f)
	}
	kw := func(name string, store bool) {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.Store = store
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(name, f)
	}
	text("subject", true)
	text("body", true)
	text("attachment", true)
	for _, f := range []string{"from", "to", "cc", "bcc"} {
		kw(f, f == "from")
		kw("dom_"+f, false)
		parts(f + "_text")
	}
	kw("participant", false)
	kw("reader", false) // the read rule's addresses: participant + Sender, Reply-To, envelope
	kw("domain", false)
	kw("sender_domain", false)
	kw("filename_kw", false)
	parts("filename")
	kw("message_id", false)
	kw("thread", false)
	kw("channel", false)
	kw("year", false)
	for _, b := range []string{"malformed", "has_attachment"} {
		f := bleve.NewBooleanFieldMapping()
		f.IncludeInAll = false
		dm.AddFieldMappingsAt(b, f)
	}
	d := bleve.NewDateTimeFieldMapping()
	d.Store = true
	dm.AddFieldMappingsAt("date", d)
	dm.AddFieldMappingsAt("archived", bleve.NewDateTimeFieldMapping())
	n := bleve.NewNumericFieldMapping()
	n.IncludeInAll = false
	dm.AddFieldMappingsAt("size", n)
	im.DefaultMapping = dm
	im.DefaultAnalyzer = analyzerText
	return im, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// fields renders a Doc as the mapped document.
func fields(d Doc) map[string]any {
	m := map[string]any{
		"subject": d.Subject, "body": clip(d.Body, maxStored), "attachment": clip(d.Attachments, maxStored),
		"message_id": strings.ToLower(strings.Trim(d.MessageID, "<> ")), "thread": strconv.FormatInt(d.Thread, 10),
		"channel": d.Channel, "malformed": d.Malformed, "has_attachment": d.HasAttach, "size": float64(d.Size),
		"archived": d.ArchivedAt, "filename": strings.Join(d.Filenames, " "),
	}
	if !d.Date.IsZero() {
		m["date"] = d.Date
		m["year"] = strconv.Itoa(d.Date.UTC().Year())
	}
	var fnames []string
	for _, f := range d.Filenames {
		fnames = append(fnames, strings.ToLower(f))
	}
	m["filename_kw"] = fnames
	var all, alldom []string
	for name, list := range map[string][]Address{"from": d.From, "to": d.To, "cc": d.Cc, "bcc": d.Bcc} {
		var addrs, doms, texts []string
		for _, a := range list {
			addr := strings.ToLower(a.Address)
			if addr != "" {
				addrs = append(addrs, addr)
				doms = append(doms, domains(addr)...)
			}
			texts = append(texts, a.Name+" "+addr)
		}
		m[name], m["dom_"+name], m[name+"_text"] = addrs, doms, strings.Join(texts, " ; ")
		all, alldom = append(all, addrs...), append(alldom, doms...)
	}
	m["participant"], m["domain"] = all, alldom
	readers := append([]string{}, all...)
	for _, list := range [][]Address{d.Sender, d.ReplyTo} {
		for _, a := range list {
			if a.Address != "" {
				readers = append(readers, strings.ToLower(a.Address))
			}
		}
	}
	for _, a := range d.Envelope {
		if a != "" {
			readers = append(readers, strings.ToLower(a))
		}
	}
	m["reader"] = readers
	if len(d.From) > 0 {
		if ds := domains(strings.ToLower(d.From[0].Address)); len(ds) > 0 {
			m["sender_domain"] = ds[0]
		}
	}
	return m
}

// domains returns an address's domain and its parents (sep.gob.mx, gob.mx).
func domains(addr string) []string {
	_, dom, ok := strings.Cut(addr, "@")
	if !ok || dom == "" {
		return nil
	}
	out := []string{dom}
	for {
		_, rest, ok := strings.Cut(dom, ".")
		if !ok || !strings.Contains(rest, ".") {
			break
		}
		out = append(out, rest)
		dom = rest
	}
	return out
}
