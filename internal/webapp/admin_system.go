package webapp

import (
	"net/http"

	"github.com/resguardo/resguardo/internal/i18n"
)

// The system page (/admin/sistema, PermConfigure): the institution's mail
// domains, the antivirus engines' state, the fingerprints of the keys and
// certificates (never key material) and the configuration check. Each
// section's source is an Operations func; a nil one hides the section, a
// failing one shows an error in its place.

type keyRow struct {
	Role, ID, Subject, Fingerprint, NotAfter, Public string
}

type systemData struct {
	Domains        []string
	ShowEngines    bool
	Engines        []engineView
	EnginesError   string
	ShowKeys       bool
	Keys           []keyRow
	KeysError      string
	ShowConfig     bool
	ConfigFile     string
	ConfigOK       bool
	ConfigProblems []string
	ConfigError    string
}

func (a *App) adminSystem(w http.ResponseWriter, r *http.Request, q *req) {
	ctx := r.Context()
	o := a.opt.Ops
	d := &systemData{Domains: o.Domains}
	if o.Engines != nil {
		d.ShowEngines = true
		d.Engines, d.EnginesError = a.engineViews(ctx, q.lang)
	}
	if o.Keys != nil {
		d.ShowKeys = true
		ks, err := o.Keys(ctx)
		if err != nil {
			a.opt.Logger.Warn("system page: keys", "err", err)
			d.KeysError = text(q.lang, "error.internal")
		}
		for _, k := range ks {
			row := keyRow{Role: k.Role, ID: k.ID, Subject: k.Subject, Fingerprint: k.Fingerprint, Public: k.Public}
			if _, ok := lookupText("key." + k.Role); ok {
				row.Role = text(q.lang, "key."+k.Role)
			}
			if !k.NotAfter.IsZero() {
				row.NotAfter = k.NotAfter.UTC().Format("02/01/2006")
				if q.lang == i18n.EN {
					row.NotAfter = k.NotAfter.UTC().Format("2006-01-02")
				}
			}
			d.Keys = append(d.Keys, row)
		}
	}
	if o.ConfigCheck != nil {
		d.ShowConfig = true
		c, err := o.ConfigCheck(ctx)
		if err != nil {
			a.opt.Logger.Warn("system page: configuration check", "err", err)
			d.ConfigError = text(q.lang, "error.internal")
		} else {
			d.ConfigFile, d.ConfigOK, d.ConfigProblems = c.File, len(c.Problems) == 0, c.Problems
		}
	}
	p := q.page("admin.system.title")
	p.Data = d
	a.render(w, http.StatusOK, "admin_system", p)
}
