package search

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	bquery "github.com/blevesearch/bleve/v2/search/query"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/resguardo/resguardo/internal/search/query"
)

// translate turns a parsed query into a bleve query.
func translate(n query.Node) (bquery.Query, error) {
	switch n := n.(type) {
	case nil, query.All, *query.All:
		return bleve.NewMatchAllQuery(), nil
	case *query.And:
		var must, not []bquery.Query
		for _, t := range n.Terms {
			if nt, ok := t.(*query.Not); ok {
				q, err := translate(nt.Term)
				if err != nil {
					return nil, err
				}
				not = append(not, q)
				continue
			}
			q, err := translate(t)
			if err != nil {
				return nil, err
			}
			must = append(must, q)
		}
		if len(must) == 0 {
			must = append(must, bleve.NewMatchAllQuery())
		}
		b := bleve.NewBooleanQuery()
		b.AddMust(must...)
		b.AddMustNot(not...)
		return b, nil
	case *query.Or:
		var qs []bquery.Query
		for _, t := range n.Terms {
			q, err := translate(t)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
		}
		return bleve.NewDisjunctionQuery(qs...), nil
	case *query.Not:
		q, err := translate(n.Term)
		if err != nil {
			return nil, err
		}
		b := bleve.NewBooleanQuery()
		b.AddMust(bleve.NewMatchAllQuery())
		b.AddMustNot(q)
		return b, nil
	case *query.Term:
		return translateTerm(n)
	case *query.DateRange:
		var from, to *time.Time
		if !n.From.IsZero() {
			from = &n.From
		}
		if !n.To.IsZero() {
			to = &n.To
		}
		incl, excl := true, false
		q := bleve.NewDateRangeInclusiveQuery(deref(from), deref(to), &incl, &excl)
		q.SetField("date")
		return q, nil
	case *query.SizeRange:
		var min, max *float64
		if n.Min >= 0 {
			v := float64(n.Min)
			min = &v
		}
		if n.Max >= 0 {
			v := float64(n.Max)
			max = &v
		}
		incl, excl := true, false
		q := bleve.NewNumericRangeInclusiveQuery(min, max, &incl, &excl)
		q.SetField("size")
		return q, nil
	case *query.Has:
		if n.What != "attachment" {
			return nil, fmt.Errorf("search: has:%s is not supported", n.What)
		}
		q := bleve.NewBoolFieldQuery(true)
		q.SetField("has_attachment")
		return q, nil
	case *query.Is:
		if n.What != "malformed" {
			return nil, fmt.Errorf("search: is:%s is not supported", n.What)
		}
		q := bleve.NewBoolFieldQuery(true)
		q.SetField("malformed")
		return q, nil
	}
	return nil, fmt.Errorf("search: unsupported query node %T", n)
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// textFields are what a bare word searches: the text, and the names and address
// parts of the people (as in Gmail and notmuch: "perez" finds mail from Pérez).
var textFields = []string{"subject", "body", "attachment", "from_text", "to_text", "cc_text", "bcc_text"}

func translateTerm(t *query.Term) (bquery.Query, error) {
	v := t.Value
	switch t.Field {
	case "text":
		return textQuery(textFields, t), nil
	case "subject", "body", "attachment":
		return textQuery([]string{t.Field}, t), nil
	case "from", "to", "cc", "bcc":
		return addressQuery(t.Field, t), nil
	case "participant":
		return bleve.NewDisjunctionQuery(addressQuery("from", t), addressQuery("to", t), addressQuery("cc", t), addressQuery("bcc", t)), nil
	case "domain":
		return termQuery("domain", strings.ToLower(strings.TrimPrefix(v, "@")), t.Prefix), nil
	case "filename":
		lv := strings.ToLower(v)
		if t.Prefix {
			return bleve.NewDisjunctionQuery(termQuery("filename_kw", lv, true), termQuery("filename", fold(lv), true)), nil
		}
		return bleve.NewDisjunctionQuery(termQuery("filename_kw", lv, false), partsPhrase("filename", v)), nil
	case "id":
		return termQuery("message_id", strings.ToLower(strings.Trim(v, "<> ")), t.Prefix), nil
	case "thread":
		return termQuery("thread", v, false), nil
	case "channel":
		return termQuery("channel", strings.ToLower(v), false), nil
	}
	return nil, fmt.Errorf("search: field %q is not supported", t.Field)
}

func textQuery(fields []string, t *query.Term) bquery.Query {
	var qs []bquery.Query
	for _, f := range fields {
		switch {
		case t.Prefix && strings.HasSuffix(f, "_text"):
			qs = append(qs, termQuery(f, fold(t.Value), true))
		case t.Prefix:
			qs = append(qs, termQuery(f, stemPrefix(t.Value), true))
		case t.Phrase:
			m := bleve.NewMatchPhraseQuery(t.Value)
			m.SetField(f)
			qs = append(qs, m)
		default:
			m := bleve.NewMatchQuery(t.Value)
			m.SetField(f)
			m.SetOperator(bquery.MatchQueryOperatorAnd)
			qs = append(qs, m)
		}
	}
	if len(qs) == 1 {
		return qs[0]
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// addressQuery: "@dominio" matches the field's domains, an address matches it
// whole, anything else matches names and address parts.
func addressQuery(field string, t *query.Term) bquery.Query {
	v := strings.ToLower(t.Value)
	switch {
	case strings.HasPrefix(v, "@"):
		return termQuery("dom_"+field, strings.TrimPrefix(v, "@"), t.Prefix)
	case strings.Contains(v, "@"):
		return termQuery(field, v, t.Prefix)
	case t.Prefix:
		return termQuery(field+"_text", fold(v), true)
	default:
		return partsPhrase(field+"_text", t.Value)
	}
}

// partsPhrase matches v's words in order in a field analysed into parts (names,
// address parts, file names). One word is a plain term: a phrase search would
// read every match's positions for nothing.
func partsPhrase(field, v string) bquery.Query {
	toks := partsAnalyzer().Analyze([]byte(v))
	if len(toks) == 1 {
		return termQuery(field, string(toks[0].Term), false)
	}
	m := bleve.NewMatchPhraseQuery(v)
	m.SetField(field)
	return m
}

func termQuery(field, v string, prefix bool) bquery.Query {
	if prefix {
		q := bleve.NewPrefixQuery(v)
		q.SetField(field)
		return q
	}
	q := bleve.NewTermQuery(v)
	q.SetField(field)
	return q
}

func anyTerm(field string, values []string) bquery.Query {
	var qs []bquery.Query
	for _, v := range values {
		qs = append(qs, termQuery(field, strings.ToLower(v), false))
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// stemPrefix is the prefix to look up in a stemmed text field: the words were
// indexed stemmed ("cache" as "cach", "contratos" as "contrat"), so "cache*" must
// look for "cach". The stem of a word is a prefix of it, so nothing the prefix
// would match unstemmed is lost. Stop words and stems shorter than three letters
// keep the prefix as written.
func stemPrefix(v string) string {
	f := fold(v)
	toks := textAnalyzer().Analyze([]byte(f))
	if len(toks) != 1 {
		return f
	}
	st := string(toks[0].Term)
	if len([]rune(st)) < 3 || !strings.HasPrefix(f, st) {
		return f
	}
	return st
}

var (
	textAnalyzer  = sync.OnceValue(func() analysis.Analyzer { return namedAnalyzer(analyzerText) })
	partsAnalyzer = sync.OnceValue(func() analysis.Analyzer { return namedAnalyzer(analyzerParts) })
)

func namedAnalyzer(name string) analysis.Analyzer {
	im, err := indexMapping()
	if err != nil {
		panic(err) // the mapping is a constant of this package
	}
	a := im.AnalyzerNamed(name)
	if a == nil {
		panic("search: analyzer " + name + " missing")
	}
	return a
}

// fold lowercases and strips accents, as the analyzers do, for prefix queries
// (which bleve does not analyze).
func fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, strings.ToLower(s))
	if err != nil {
		return strings.ToLower(s)
	}
	return out
}
