package webapp

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/message"
)

// who is the request's user and session justification, for the services.
func (q *req) who() who { return who{user: q.user, just: q.sess.Justification, via: "web"} }

// readFail answers a read service's error as a page: 404 (the same page
// whether the record does not exist or belongs to others), the justification
// form for a role that reads others' mail but has not typed one, 403, 409 for
// a constancia not sealed yet, or 500.
func (a *App) readFail(w http.ResponseWriter, r *http.Request, q *req, err error) {
	switch {
	case errors.Is(err, errNotFound):
		a.fail(w, r, http.StatusNotFound, nil)
	case errors.Is(err, identity.ErrJustificationRequired):
		p := q.page("justify.title")
		p.Data = justifyData{Return: r.URL.RequestURI()}
		a.render(w, http.StatusOK, "justify", p)
	case errors.Is(err, identity.ErrForbidden):
		a.fail(w, r, http.StatusForbidden, identity.ErrForbidden)
	case errors.Is(err, archive.ErrPending):
		p := q.page("error.title")
		p.Error = text(q.lang, "constancia.pending")
		a.render(w, http.StatusConflict, "error", p)
	default:
		a.fail(w, r, http.StatusInternalServerError, err)
	}
}

type attachment struct {
	Path, Name, Type, Size string
}

type badge struct {
	Label, Value, Class string
}

type messageData struct {
	ID, Date, Subject, Size string
	From, To, Cc            string
	Text                    string
	HasText, HasHTML        bool
	Malformed               bool
	Attachments             []attachment
	Arrivals                [][]badge
	Certify                 bool
	// View is the body shown when the message has both: "html" (the
	// sandboxed iframe, by default) or "texto" (?ver=texto, the text/plain
	// alternative); Both: it has both, so the page offers the other.
	View   string
	Both   bool
	Thread []threadItem // the conversation, when the message is not alone
	// Remote says how many remote images the HTML view blocked ("" when none).
	Remote string
}

// message shows a message: headers, the plain-text body (escaped), the HTML
// body in a sandboxed iframe, attachments, check results and constancias.
func (a *App) message(w http.ResponseWriter, r *http.Request, q *req) {
	v, err := a.readMessage(r.Context(), q.who(), r.PathValue("id"))
	if err != nil {
		a.readFail(w, r, q, err)
		return
	}
	p := q.page("message.title")
	pr := printer(q.lang)
	d := messageData{ID: v.rec.SHA256, Subject: v.meta.Subject, Size: pr.Bytes(v.rec.Size), Malformed: v.rec.Malformed,
		From: addrs(v.meta.From), To: addrs(v.meta.To), Cc: addrs(v.meta.Cc),
		Text: v.text, HasText: v.hasText, HasHTML: v.hasHTML, Certify: v.certify, Date: a.when(q.lang, v.rec.Date)}
	d.Both = v.hasText && v.hasHTML
	switch {
	case d.Both && r.URL.Query().Get("ver") == "texto", !v.hasHTML:
		d.View = "texto"
	default:
		d.View = "html"
		switch n := a.remoteImages(v); {
		case n == 1:
			d.Remote = text(q.lang, "message.remote.one")
		case n > 1:
			d.Remote = fmt.Sprintf(text(q.lang, "message.remote"), pr.Int(int64(n)))
		}
	}
	thread, err := a.threadOf(r.Context(), q.who(), v.readable, func(rd *readable) string { return a.when(q.lang, rd.rec.Date) })
	if err != nil {
		a.opt.Logger.Warn("thread not listed", "record", v.rec.SHA256[:16], "err", err)
	}
	d.Thread = thread
	for _, at := range v.attachments {
		name := at.Filename
		if name == "" {
			name = "(" + text(q.lang, "message.noname") + ")"
		}
		d.Attachments = append(d.Attachments, attachment{Path: at.Path, Name: name, Type: at.ContentType, Size: pr.Bytes(at.Size)})
	}
	for _, ar := range v.arrivals {
		d.Arrivals = append(d.Arrivals, a.badges(q, ar))
	}
	p.Data = d
	a.render(w, http.StatusOK, "message", p)
}

func addrs(list []message.Address) string {
	var out []string
	for _, ad := range list {
		if ad.Name != "" {
			out = append(out, ad.Name+" <"+ad.Address+">")
		} else {
			out = append(out, ad.Address)
		}
	}
	return strings.Join(out, ", ")
}

// badges turns one arrival's checks into badges: ok (pass, clean, ham), bad
// (fail, infected, spam) or neutral.
func (a *App) badges(q *req, ar constancia.Arrival) []badge {
	cls := func(v string) string {
		v = strings.ToLower(v)
		switch {
		case strings.HasPrefix(v, "pass"), v == "clean", v == "ham", v == "accept":
			return "ok"
		case strings.HasPrefix(v, "fail"), strings.HasPrefix(v, "softfail"), v == "infected", v == "spam", v == "quarantine", v == "reject":
			return "bad"
		}
		return "neutral"
	}
	at := ar.ReceivedAt
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = a.when(q.lang, t) // the page's date format and time zone
	}
	out := []badge{{Label: text(q.lang, "message.channel"), Value: ar.Channel + " · " + at, Class: "neutral"}}
	if ar.Verdict != "" {
		out = append(out, badge{text(q.lang, "message.verdict"), ar.Verdict, cls(ar.Verdict)})
	}
	if ar.SPF != "" {
		out = append(out, badge{"SPF", ar.SPF, cls(ar.SPF)})
	}
	for _, d := range ar.DKIM {
		out = append(out, badge{"DKIM", d, cls(d)})
	}
	if ar.DMARC != "" {
		out = append(out, badge{"DMARC", ar.DMARC, cls(ar.DMARC)})
	}
	for _, e := range ar.Antivirus {
		v := e.Verdict
		if e.Threat != "" {
			v += ": " + e.Threat
		}
		out = append(out, badge{text(q.lang, "message.av") + " " + e.Engine, v, cls(e.Verdict)})
	}
	for _, e := range ar.Antispam {
		v := e.Verdict
		if e.Score != nil {
			v += " (" + printer(q.lang).Float(*e.Score, 1) + ")"
		}
		out = append(out, badge{text(q.lang, "message.spam") + " " + e.Engine, v, cls(e.Verdict)})
	}
	return out
}

// body serves a message's HTML body, sanitized, for the sandboxed iframe of
// the message page, under BodyCSP: no script, no remote content, images only
// the message's own (embedded). The app's headers (nosniff among them) stay.
func (a *App) body(w http.ResponseWriter, r *http.Request, q *req) {
	html, err := a.htmlBody(r.Context(), q.who(), r.PathValue("id"))
	if err != nil {
		a.readFail(w, r, q, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", BodyCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(html))
}

// attachment sends one attachment as a download: always
// application/octet-stream with Content-Disposition attachment and a safe
// file name, so the browser never renders it in the app's origin.
func (a *App) attachment(w http.ResponseWriter, r *http.Request, q *req) {
	f, err := a.attachmentFile(r.Context(), q.who(), r.PathValue("id"), r.PathValue("path"))
	if err != nil {
		a.readFail(w, r, q, err)
		return
	}
	download(w, f.name, f.ctype, f.data)
}

func download(w http.ResponseWriter, name, ctype string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(b)
}

// safeFilename keeps a file name's last path element without control
// characters, quotes or separators, up to 150 characters; fallback when
// nothing is left.
func safeFilename(name, fallback string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || strings.ContainsRune(`"<>:|?*;`, c) || c == unicode.ReplacementChar {
			return '_'
		}
		return c
	}, name)
	name = strings.Trim(name, ". ")
	if r := []rune(name); len(r) > 150 {
		name = string(r[:150])
	}
	if name == "" {
		return fallback
	}
	return name
}

// constancia sends the record's constancia as JSON, CMS (p7s) or PDF, for
// users whose role certifies.
func (a *App) constancia(w http.ResponseWriter, r *http.Request, q *req) {
	f, err := a.constanciaFile(r.Context(), q.who(), r.PathValue("id"), r.PathValue("ext"))
	if err != nil {
		a.readFail(w, r, q, err)
		return
	}
	download(w, f.name, f.ctype, f.data)
}
