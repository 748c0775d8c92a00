package webapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/i18n"
)

// The access-log pages: /cuenta/accesos ("who accessed my mail": every access
// by others to a record in which one of the user's addresses participates)
// and /auditoria/accesos (everyone's, with filters; PermAccessLogAll). Viewing
// either is itself an access entry (action "access_log").

// accessPerPage is the number of entries on an access-log page.
const accessPerPage = 50

type recLink struct{ ID, Short string }

// accessRow is one access entry as the pages show it.
type accessRow struct {
	ID, Ledger, When, Actor, Action string
	What, Results, Justification    string
	Records                         []recLink
	MoreRecords                     string // "y 17 más"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// actorName shows an actor: the login of a web user, the OS user and host of
// the command line.
func actorName(l i18n.Lang, actor string) string {
	if login, ok := strings.CutPrefix(actor, "user:"); ok {
		return login
	}
	if who, ok := strings.CutPrefix(actor, "os:"); ok {
		return who + " (" + text(l, "access.cli") + ")"
	}
	return actor
}

// actionName is an action's name for people (the identifier when unknown).
func actionName(l i18n.Lang, action string) string {
	if _, ok := lookupText("action." + action); ok {
		return text(l, "action."+action)
	}
	return action
}

// whatName is a read or download's object as people read it ("mensaje",
// "adjunto 2.1", "constancia (JSON)"); queries and other details are shown as
// recorded.
func whatName(l i18n.Lang, action, what string) string {
	if action != "read" && action != "download" {
		return what
	}
	if _, ok := lookupText("what." + what); ok {
		return text(l, "what."+what)
	}
	for _, prefix := range []string{"attachment ", "constancia "} {
		if rest, ok := strings.CutPrefix(what, prefix); ok {
			return text(l, "what."+strings.TrimSpace(prefix)) + " " + rest
		}
	}
	return what
}

// accessRows turns entries into rows. own: the user's page, where the records
// are the user's own among those the entry touched, and a search's query is
// not shown (it is the searcher's; the row says the message was among the
// results); otherwise every record of the detail and the query.
func (a *App) accessRows(q *req, es []catalog.AccessEntry, own bool) []accessRow {
	pr := printer(q.lang)
	var out []accessRow
	for _, e := range es {
		var d archive.AccessDetail
		_ = json.Unmarshal(e.Detail, &d) // a row whose detail does not parse still shows who, when and what
		row := accessRow{ID: strconv.FormatInt(e.ID, 10), When: a.when(q.lang, e.At), Actor: actorName(q.lang, e.Actor),
			Action: actionName(q.lang, e.Action), What: whatName(q.lang, e.Action, d.Query), Results: pr.Int(d.Results), Justification: d.Justification, Ledger: "—"}
		if e.LedgerIndex >= 0 {
			row.Ledger = pr.Int(e.LedgerIndex)
		}
		switch tok, isToken := strings.CutPrefix(d.Via, "api-token:"); {
		case isToken:
			row.Actor += " · " + text(q.lang, "access.via.token") + tok
		case d.Via == "api":
			row.Actor += " · " + text(q.lang, "access.via.api")
		}
		recs := d.Records
		if own {
			recs = e.Records
			if e.Action == "search" {
				row.What = text(q.lang, "access.inresults")
			}
		}
		for i, id := range recs {
			if i == 3 && !own {
				row.MoreRecords = fmt.Sprintf(text(q.lang, "access.more"), pr.Int(int64(len(recs)-3)))
				break
			}
			row.Records = append(row.Records, recLink{ID: id, Short: shortID(id)})
		}
		out = append(out, row)
	}
	return out
}

type accessData struct {
	Rows      []accessRow
	Next, Top string // older entries; back to the newest
	NoAddress bool
	Filter    accessFilterForm
	Actions   []option
	Audit     bool
}

type option struct {
	Value, Label string
	Selected     bool
}

// page fills Next and Top for entries newest first.
func (d *accessData) page(base string, v url.Values, es []catalog.AccessEntry, paged bool) {
	if len(es) == accessPerPage {
		v.Set("antes", strconv.FormatInt(es[len(es)-1].ID, 10))
		d.Next = base + "?" + v.Encode()
	}
	if paged {
		v.Del("antes")
		d.Top = base
		if len(v) > 0 {
			d.Top += "?" + v.Encode()
		}
	}
}

// logView writes the access entry of a view of the access log; false (after
// an error page) when it could not be written.
func (a *App) logView(w http.ResponseWriter, r *http.Request, q *req, what string, n int) bool {
	err := a.opt.LogAccess(r.Context(), archive.AccessDetail{Actor: q.user.Actor(), Action: "access_log", Query: what,
		Results: int64(n), Justification: q.sess.Justification.Text})
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, fmt.Errorf("access log view not logged: %w", err))
		return false
	}
	return true
}

// myAccess is "Quién consultó mi correo": accesses by other actors to records
// in which one of the user's addresses participates.
func (a *App) myAccess(w http.ResponseWriter, r *http.Request, q *req) {
	if a.opt.Ops.AccessLog == nil {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	p := q.page("access.mine.title")
	d := &accessData{}
	p.Data = d
	if len(q.user.Addresses) == 0 {
		d.NoAddress = true
		a.render(w, http.StatusOK, "myaccess", p)
		return
	}
	v := r.URL.Query()
	before, _ := strconv.ParseInt(v.Get("antes"), 10, 64)
	es, err := a.opt.Ops.AccessLog(r.Context(), catalog.AccessFilter{Participants: q.user.Addresses, NotActor: q.user.Actor(),
		BeforeID: before, Limit: accessPerPage})
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	what := "own participant:{" + strings.Join(q.user.Addresses, ",") + "}"
	if before > 0 {
		what += " before:" + strconv.FormatInt(before, 10)
	}
	if !a.logView(w, r, q, what, len(es)) {
		return
	}
	d.Rows = a.accessRows(q, es, true)
	d.page("/cuenta/accesos", url.Values{}, es, before > 0)
	a.render(w, http.StatusOK, "myaccess", p)
}

// accessFilterForm is the filter form of /auditoria/accesos.
type accessFilterForm struct {
	Actor, Action, Since, Until, Record string
}

// filter turns the form into a catalog filter; an error key when a field is
// not valid.
func (a *App) filter(f accessFilterForm) (catalog.AccessFilter, string) {
	var cf catalog.AccessFilter
	if f.Actor != "" {
		cf.Actor = f.Actor
		if !strings.Contains(f.Actor, ":") {
			cf.Actor = "user:" + strings.ToLower(f.Actor)
		}
	}
	cf.Action = f.Action
	since, ok1 := a.day(f.Since)
	until, ok2 := a.day(f.Until)
	if !ok1 || !ok2 {
		return cf, "search.baddate"
	}
	cf.Since = since
	if !until.IsZero() {
		cf.Until = until.AddDate(0, 0, 1) // inclusive
	}
	if f.Record != "" {
		if !isSHA256(strings.ToLower(f.Record)) {
			return cf, "access.badrecord"
		}
		cf.Record = strings.ToLower(f.Record)
	}
	return cf, ""
}

// text is the filter as written to the access entry of the view.
func (f accessFilterForm) text() string {
	var parts []string
	for _, kv := range [][2]string{{"actor", f.Actor}, {"action", f.Action}, {"since", f.Since}, {"until", f.Until}, {"record", f.Record}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+":"+kv[1])
		}
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// accessLog is everyone's access log, filtered and paged.
func (a *App) accessLog(w http.ResponseWriter, r *http.Request, q *req) {
	if a.opt.Ops.AccessLog == nil {
		a.fail(w, r, http.StatusNotFound, nil)
		return
	}
	ctx := r.Context()
	v := r.URL.Query()
	f := accessFilterForm{Actor: strings.TrimSpace(v.Get("usuario")), Action: v.Get("accion"), Since: v.Get("desde"),
		Until: v.Get("hasta"), Record: strings.TrimSpace(v.Get("registro"))}
	p := q.page("access.all.title")
	d := &accessData{Filter: f, Audit: true}
	p.Data = d
	if a.opt.Ops.AccessActions != nil {
		acts, err := a.opt.Ops.AccessActions(ctx)
		if err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		for _, act := range acts {
			d.Actions = append(d.Actions, option{Value: act, Label: actionName(q.lang, act), Selected: act == f.Action})
		}
	}
	cf, bad := a.filter(f)
	if bad != "" {
		p.Error = text(q.lang, bad)
		a.render(w, http.StatusBadRequest, "accesslog", p)
		return
	}
	cf.BeforeID, _ = strconv.ParseInt(v.Get("antes"), 10, 64)
	cf.Limit = accessPerPage
	es, err := a.opt.Ops.AccessLog(ctx, cf)
	if err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	what := f.text()
	if cf.BeforeID > 0 {
		what += " before:" + strconv.FormatInt(cf.BeforeID, 10)
	}
	if !a.logView(w, r, q, what, len(es)) {
		return
	}
	d.Rows = a.accessRows(q, es, false)
	keep := url.Values{}
	for k, val := range map[string]string{"usuario": f.Actor, "accion": f.Action, "desde": f.Since, "hasta": f.Until, "registro": f.Record} {
		if val != "" {
			keep.Set(k, val)
		}
	}
	d.page("/auditoria/accesos", keep, es, cf.BeforeID > 0)
	a.render(w, http.StatusOK, "accesslog", p)
}
