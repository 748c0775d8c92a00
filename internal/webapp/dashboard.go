package webapp

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// The dashboard (/inicio), every user's landing page. What it shows depends
// on the roles (docs/WEB.md, "Dashboard"):
//   - everyone: their own mail (messages of the last 30 days in which one of
//     their addresses participates) and the latest accesses by others to it;
//   - PermMetricsAll or PermSystemStatus (administrador, auditor, responsable
//     de archivo): the institution's volumes — archived today, this month, in
//     the last hour, per hour for 24 hours and per day for 30 days (SVG bar
//     charts drawn here) — and the quarantine count;
//   - PermSystemStatus (administrador): outbound queue, engine health, ledger
//     size and latest checkpoint with its timestamp, search lag.

// cell is one row of a chart's table.
type cell struct{ Label, Value string }

type volumes struct {
	Today, Month, LastHour, Quarantined string
	HasQuarantine                       bool
	Hourly, Daily                       template.HTML
	HourTable, DayTable                 []cell
}

type systemView struct {
	Outbound                          []cell
	LedgerSize, LedgerPending         string
	CheckpointAt                      string
	StampedSize, StampedAt, Authority string
	Stamped                           bool   // every ledger entry is under a timestamped checkpoint
	Unstamped                         string // entries not yet under one
	IndexLag, IndexOldest             string
	IndexOK                           bool
}

type engineView struct {
	Name, Type, Address, Version, Error, Latency string
	Up                                           bool
}

type dashData struct {
	Mine         string // own messages, last 30 days ("" when not counted)
	NoAddress    bool
	Notices      []accessRow // latest accesses by others to the user's mail
	Volumes      *volumes
	System       *systemView
	ShowEngines  bool
	Engines      []engineView
	EnginesError string
}

// dashboard shows the dashboard. Sections whose source fails show an error
// in their place instead of failing the page.
func (a *App) dashboard(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	p := q.page("dash.title")
	p.Info = flash(q, r.URL.Query())
	d := &dashData{}
	p.Data = d
	now := a.opt.Ops.Now()
	pr := printer(q.lang)
	if len(q.user.Addresses) == 0 {
		d.NoAddress = true
	} else if n, err := a.ownCount(ctx, q.user, now); err == nil {
		d.Mine = pr.Int(int64(n))
	} else {
		a.opt.Logger.Warn("dashboard: own mail count", "err", err)
	}
	if a.opt.Ops.AccessLog != nil && len(q.user.Addresses) > 0 {
		es, err := a.opt.Ops.AccessLog(ctx, catalog.AccessFilter{Participants: q.user.Addresses, NotActor: q.user.Actor(), Limit: 5})
		if err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		d.Notices = a.accessRows(q, es, true)
	}
	if (q.user.Can(identity.PermMetricsAll) || q.user.Can(identity.PermSystemStatus)) && a.opt.Ops.Archived != nil {
		v, err := a.volumes(ctx, q.lang, now)
		if err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		d.Volumes = v
	}
	if q.user.Can(identity.PermSystemStatus) && a.opt.Ops.Status != nil {
		st, err := a.opt.Ops.Status(ctx)
		if err != nil {
			a.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		if d.Volumes != nil {
			d.Volumes.Quarantined, d.Volumes.HasQuarantine = pr.Int(st.Quarantined), true
		}
		d.System = a.systemView(q.lang, st, now)
	}
	if q.user.Can(identity.PermSystemStatus) && a.opt.Ops.Engines != nil {
		d.ShowEngines = true
		d.Engines, d.EnginesError = a.engineViews(ctx, q.lang)
	}
	a.render(w, http.StatusOK, "dashboard", p)
}

// ownCount is the number of messages dated in the last 30 days in which one of
// u's addresses participates (From, To, Cc, Bcc: the search restriction). It
// reads only the index's count, shows nothing of the messages, and is not an
// access entry.
func (a *App) ownCount(ctx context.Context, u *identity.User, now time.Time) (uint64, error) {
	since := now.In(a.opt.TZ).AddDate(0, 0, -30).Format("2006-01-02")
	n, err := query.Parse("date:" + since + "..")
	if err != nil {
		return 0, err
	}
	res, err := a.opt.Index.Search(ctx, search.Request{Query: n, Limit: 1, Participants: u.Addresses})
	if err != nil {
		return 0, err
	}
	return res.Total, nil
}

// dayStart is the start of t's day in tz, shifted by days.
func dayStart(t time.Time, tz *time.Location, days int) time.Time {
	t = t.In(tz)
	return time.Date(t.Year(), t.Month(), t.Day()+days, 0, 0, 0, 0, tz)
}

// volumes counts the records archived today, this month, per hour for the
// last 24 hours (the last bar is the current hour) and per day for the last
// 30 days (the last is today), in the page's time zone.
func (a *App) volumes(ctx context.Context, l i18n.Lang, now time.Time) (*volumes, error) {
	tz, pr := a.opt.TZ, printer(l)
	local := now.In(tz)
	hour := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, tz)
	var hb []time.Time
	for i := -23; i <= 1; i++ {
		hb = append(hb, hour.Add(time.Duration(i)*time.Hour))
	}
	var db []time.Time
	for i := -29; i <= 1; i++ {
		db = append(db, dayStart(now, tz, i))
	}
	month := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, tz)
	hours, err := a.opt.Ops.Archived(ctx, hb)
	if err != nil {
		return nil, err
	}
	days, err := a.opt.Ops.Archived(ctx, db)
	if err != nil {
		return nil, err
	}
	m, err := a.opt.Ops.Archived(ctx, []time.Time{month, dayStart(now, tz, 1)})
	if err != nil {
		return nil, err
	}
	v := &volumes{Today: pr.Int(days[len(days)-1]), Month: pr.Int(m[0]), LastHour: pr.Int(hours[len(hours)-1])}
	hc := chart{ID: "grafica-horas", Title: text(l, "dash.chart.hours"), Values: hours, Every: 3}
	for i := range hours {
		lb := hb[i].Format("15:04")
		hc.Labels = append(hc.Labels, lb)
		v.HourTable = append(v.HourTable, cell{lb, pr.Int(hours[i])})
	}
	dc := chart{ID: "grafica-dias", Title: text(l, "dash.chart.days"), Values: days, Every: 5}
	for i := range days {
		lb := db[i].Format("02/01")
		if l == i18n.EN {
			lb = db[i].Format("01-02")
		}
		dc.Labels = append(dc.Labels, lb)
		v.DayTable = append(v.DayTable, cell{lb, pr.Int(days[i])})
	}
	v.Hourly, v.Daily = template.HTML(hc.SVG(pr)), template.HTML(dc.SVG(pr))
	return v, nil
}

var outboundStates = []string{"queued", "deferred", "held", "failed", "delivered"}

func (a *App) systemView(l i18n.Lang, st *SystemStatus, now time.Time) *systemView {
	pr := printer(l)
	v := &systemView{LedgerSize: pr.Int(st.LedgerSize), LedgerPending: pr.Int(st.LedgerPending),
		CheckpointAt: a.when(l, st.CheckpointAt), StampedSize: pr.Int(st.StampedSize), StampedAt: a.when(l, st.StampedAt),
		Authority: st.StampAuthority, IndexLag: pr.Int(st.IndexLag), IndexOK: st.IndexLag == 0}
	v.Stamped = st.StampedSize >= st.LedgerSize && st.LedgerSize > 0
	if !v.Stamped {
		v.Unstamped = pr.Int(max(st.LedgerSize-st.StampedSize, 0))
	}
	if !st.IndexOldest.IsZero() {
		v.IndexOldest = a.when(l, st.IndexOldest)
	}
	for _, s := range outboundStates {
		v.Outbound = append(v.Outbound, cell{text(l, "dash.queue."+s), pr.Int(st.Outbound[s])})
	}
	return v
}

// engineViews probes the engines (bounded by the request's context).
func (a *App) engineViews(ctx context.Context, l i18n.Lang) ([]engineView, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	es, err := a.opt.Ops.Engines(ctx)
	if err != nil {
		a.opt.Logger.Warn("dashboard: engines", "err", err)
		return nil, text(l, "error.internal")
	}
	var out []engineView
	for _, e := range es {
		out = append(out, engineView{Name: e.Name, Type: e.Type, Address: e.Address, Version: e.Version, Error: e.Error,
			Up: e.Up, Latency: printer(l).Float(e.LatencyMS, 1) + " ms"})
	}
	return out, ""
}
