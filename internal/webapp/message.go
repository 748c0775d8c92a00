package webapp

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/message"
)

// readable is a record the user may read, with what the pages show of it.
type readable struct {
	rec      *catalog.Record
	meta     archive.Meta
	arrivals []constancia.Arrival
}

// openBytes is open followed by reading the record's bytes; nil when the
// request was answered (not found, refused, error).
func (a *App) openBytes(w http.ResponseWriter, r *http.Request, q *req) (*readable, []byte) {
	rd := a.open(w, r, q)
	if rd == nil {
		return nil, nil
	}
	raw, err := a.opt.Bytes(r.Context(), rd.rec)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return nil, nil
	}
	return rd, raw
}

// open looks up the record of the path's id and applies the read rule. It
// answers itself (and returns nil) when the user may not read it: 404 whether
// the record does not exist or belongs to others, so ids reveal nothing; the
// justification form for a role that reads others' mail but has not typed one.
func (a *App) open(w http.ResponseWriter, r *http.Request, q *req) *readable {
	ctx := r.Context()
	id := r.PathValue("id")
	if !isSHA256(id) {
		a.fail(w, r, http.StatusNotFound, nil)
		return nil
	}
	rec, err := a.opt.Lookup(ctx, id)
	if err != nil || rec == nil || rec.SHA256 != id {
		a.fail(w, r, http.StatusNotFound, nil)
		return nil
	}
	rd := &readable{rec: rec}
	if err := json.Unmarshal(rec.Meta, &rd.meta); err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return nil
	}
	if a.opt.Arrivals != nil {
		if rd.arrivals, err = a.opt.Arrivals(ctx, rec); err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return nil
		}
	}
	_, err = identity.AuthorizeRead(q.user, q.sess.Justification, rd.participants())
	switch {
	case errors.Is(err, identity.ErrJustificationRequired):
		p := q.page("justify.title")
		p.Data = justifyData{Return: r.URL.RequestURI()}
		a.render(w, http.StatusOK, "justify", p)
		return nil
	case err != nil:
		a.fail(w, r, http.StatusNotFound, nil)
		return nil
	}
	return rd
}

// participants are the addresses of the read rule: From, Sender, Reply-To, To,
// Cc, Bcc and the envelope's sender and recipients.
func (rd *readable) participants() []string {
	var out []string
	m := rd.meta
	for _, list := range [][]message.Address{m.From, m.Sender, m.ReplyTo, m.To, m.Cc, m.Bcc} {
		for _, ad := range list {
			out = append(out, ad.Address)
		}
	}
	for _, ar := range rd.arrivals {
		if ar.MailFrom != "" {
			out = append(out, ar.MailFrom)
		}
		out = append(out, ar.RcptTo...)
	}
	return out
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// logRead writes the access entry of a view or download; false (after an
// error page) when it could not be written, in which case nothing is shown.
func (a *App) logRead(w http.ResponseWriter, r *http.Request, q *req, action, what string, rec *catalog.Record) bool {
	err := a.opt.LogAccess(r.Context(), archive.AccessDetail{Actor: q.user.Actor(), Action: action, Query: what, Results: 1,
		Records: []string{rec.SHA256}, Justification: q.sess.Justification.Text})
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return false
	}
	return true
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
}

// message shows a message: headers, the plain-text body (escaped), the HTML
// body in a sandboxed iframe, attachments, check results and constancias.
func (a *App) message(w http.ResponseWriter, r *http.Request, q *req) {
	rd, raw := a.openBytes(w, r, q)
	if rd == nil {
		return
	}
	if !a.logRead(w, r, q, "read", "message", rd.rec) {
		return
	}
	m := message.Parse(raw, message.Limits{})
	p := q.page("message.title")
	pr := printer(q.lang)
	d := messageData{ID: rd.rec.SHA256, Subject: rd.meta.Subject, Size: pr.Bytes(rd.rec.Size), Malformed: rd.rec.Malformed,
		From: addrs(rd.meta.From), To: addrs(rd.meta.To), Cc: addrs(rd.meta.Cc),
		Certify: a.opt.Constancia != nil && q.user.Can(identity.PermCertify), Date: "—"}
	if !rd.rec.Date.IsZero() {
		d.Date = rd.rec.Date.In(a.opt.TZ).Format("2006-01-02 15:04 MST")
	}
	if tp, ok := bodyPart(m, "text/plain"); ok {
		b, _ := message.DecodePart(raw, tp)
		d.Text, d.HasText = message.DecodeText(b, tp.Charset), true
	}
	_, d.HasHTML = bodyPart(m, "text/html")
	for _, at := range m.Attachments() {
		name := at.Filename
		if name == "" {
			name = "(" + text(q.lang, "message.noname") + ")"
		}
		d.Attachments = append(d.Attachments, attachment{Path: at.Path, Name: name, Type: at.ContentType, Size: pr.Bytes(at.Size)})
	}
	for _, ar := range rd.arrivals {
		d.Arrivals = append(d.Arrivals, badges(q, ar))
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

// bodyPart is the first body (not attachment) part of type ct.
func bodyPart(m *message.Message, ct string) (message.Part, bool) {
	for _, p := range m.Parts {
		if !p.Attachment && p.ContentType == ct {
			return p, true
		}
	}
	return message.Part{}, false
}

// badges turns one arrival's checks into badges: ok (pass, clean, ham), bad
// (fail, infected, spam) or neutral.
func badges(q *req, ar constancia.Arrival) []badge {
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
	out := []badge{{Label: text(q.lang, "message.channel"), Value: ar.Channel + " · " + ar.ReceivedAt, Class: "neutral"}}
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

// body serves a message's HTML body for the sandboxed iframe of the message
// page, under BodyCSP: no script, no remote content, not even images.
func (a *App) body(w http.ResponseWriter, r *http.Request, q *req) {
	rd, raw := a.openBytes(w, r, q)
	if rd == nil {
		return
	}
	hp, ok := bodyPart(message.Parse(raw, message.Limits{}), "text/html")
	if !ok {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	if !a.logRead(w, r, q, "read", "html body", rd.rec) {
		return
	}
	b, _ := message.DecodePart(raw, hp)
	h := w.Header()
	h.Set("Content-Security-Policy", BodyCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(message.DecodeText(b, hp.Charset)))
}

// attachment sends one attachment as a download: always
// application/octet-stream with Content-Disposition attachment and a safe
// file name, so the browser never renders it in the app's origin.
func (a *App) attachment(w http.ResponseWriter, r *http.Request, q *req) {
	rd, raw := a.openBytes(w, r, q)
	if rd == nil {
		return
	}
	path := r.PathValue("path")
	var part *message.Part
	for _, at := range message.Parse(raw, message.Limits{}).Attachments() {
		if at.Path == path {
			part = &at
			break
		}
	}
	if part == nil {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	if !a.logRead(w, r, q, "download", "attachment "+path, rd.rec) {
		return
	}
	b, err := message.DecodePart(raw, *part)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	download(w, safeFilename(part.Filename, "adjunto-"+path+".bin"), "application/octet-stream", b)
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
	ext := r.PathValue("ext")
	if a.opt.Constancia == nil || (ext != "json" && ext != "p7s" && ext != "pdf") {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	rd := a.open(w, r, q)
	if rd == nil {
		return
	}
	if !q.user.Can(identity.PermCertify) {
		a.fail(w, r, http.StatusForbidden, identity.ErrForbidden)
		return
	}
	c, err := a.opt.Constancia(r.Context(), rd.rec)
	if errors.Is(err, archive.ErrPending) {
		p := q.page("error.title")
		p.Error = text(q.lang, "constancia.pending")
		a.render(w, http.StatusConflict, "error", p)
		return
	}
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if !a.logRead(w, r, q, "download", "constancia "+ext, rd.rec) {
		return
	}
	name := "constancia-" + rd.rec.SHA256[:16] + "." + ext
	switch ext {
	case "json":
		download(w, name, "application/json", c.JSON)
	case "p7s":
		download(w, name, "application/pkcs7-signature", c.P7S)
	case "pdf":
		download(w, name, "application/pdf", c.PDF)
	}
}
