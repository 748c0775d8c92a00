package webapp

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
)

// Operations are the data sources of the dashboard (dashboard.go), the
// access-log pages (accesslog.go) and the administration pages (admin_*.go).
// A nil func hides its section (or, for AccessLog, its pages answer 404).
type Operations struct {
	// Archived counts the records archived in each [bounds[i], bounds[i+1])
	// (catalog.CountArchived): the dashboard's volumes and charts.
	Archived func(ctx context.Context, bounds []time.Time) ([]int64, error)
	// Status returns the operational figures: quarantine, outbound queue,
	// ledger and checkpoint, search lag.
	Status func(ctx context.Context) (*SystemStatus, error)
	// Engines probes the antivirus engines (as `resguardo engines`).
	Engines func(ctx context.Context) ([]Engine, error)
	// AccessLog lists access-log entries (catalog.AccessEntries), and
	// AccessActions the actions that occur in it (the filter's choices).
	AccessLog     func(ctx context.Context, f catalog.AccessFilter) ([]catalog.AccessEntry, error)
	AccessActions func(ctx context.Context) ([]string, error)
	// Keys lists the fingerprints of the keys and certificates (never key material).
	Keys func(ctx context.Context) ([]Key, error)
	// ConfigCheck validates the configuration file again (as `resguardo config check`).
	ConfigCheck func(ctx context.Context) (*ConfigCheck, error)
	// Domains are the institution's mail domains ([gateway] domains).
	Domains []string
	// Now is the clock of the dashboard's "today" and "this month" (time.Now).
	Now func() time.Time
}

// SystemStatus are the dashboard's operational figures.
type SystemStatus struct {
	Quarantined    int64            // records in quarantine
	Outbound       map[string]int64 // outbound queue entries by state (queued, deferred, held, delivered, failed)
	IndexLag       int64            // records waiting to be indexed
	IndexOldest    time.Time        // archive time of the oldest of them
	LedgerSize     int64            // entries in the Merkle log
	LedgerPending  int64            // committed in the catalog, not yet in the Merkle log
	CheckpointAt   time.Time        // the latest signed checkpoint
	StampedSize    int64            // tree size of the latest timestamped checkpoint (0: none)
	StampedAt      time.Time        // its timestamp (genTime)
	StampAuthority string
}

// Engine is one antivirus engine's state.
type Engine struct {
	Name, Type, Address string
	Up                  bool
	Version             string
	Error               string
	LatencyMS           float64
}

// Key describes one key or certificate by its fingerprint.
type Key struct {
	// Role is what it is for: master_current, master, blob_name, ledger,
	// tsa_ca, tsa, certification_ca, certification, dkim, gateway_tls (the
	// page names them in its language), or any other text, shown as is.
	Role        string
	ID          string
	Subject     string
	Fingerprint string    // SHA-256, hex
	NotAfter    time.Time // a certificate's expiry (shown as a UTC date)
	Public      string    // a public key in its usual text form (the ledger's verifier key)
}

// ConfigCheck is the result of validating the configuration file.
type ConfigCheck struct {
	File     string   // "" when serve runs on the built-in defaults
	Problems []string // empty: valid
}

// opsPages are the templates of this file's pages.
var opsPages = []string{"dashboard", "myaccess", "accesslog", "admin_users", "admin_user", "admin_secret", "admin_tokens", "admin_system"}

// routesOps parses the pages and registers the routes of the dashboard, the
// access-log and the administration pages.
func (a *App) routesOps() error {
	for _, name := range opsPages {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/ops_parts.html", "templates/"+name+".html")
		if err != nil {
			return err
		}
		a.pages[name] = t
	}
	if a.opt.Ops.Now == nil {
		a.opt.Ops.Now = time.Now
	}
	a.mux.HandleFunc("GET /inicio", a.full(a.dashboard))
	a.mux.HandleFunc("GET /cuenta/accesos", a.full(a.myAccess))
	a.mux.HandleFunc("GET /auditoria/accesos", a.allowed(identity.PermAccessLogAll, a.accessLog))
	a.mux.HandleFunc("GET /admin/usuarios", a.allowed(identity.PermManageUsers, a.adminUsers))
	a.mux.HandleFunc("GET /admin/usuarios/nuevo", a.allowed(identity.PermManageUsers, a.adminNewUser))
	a.mux.HandleFunc("POST /admin/usuarios", a.allowed(identity.PermManageUsers, a.adminCreateUser))
	a.mux.HandleFunc("GET /admin/usuarios/{id}", a.allowed(identity.PermManageUsers, a.adminUser))
	a.mux.HandleFunc("POST /admin/usuarios/{id}", a.allowed(identity.PermManageUsers, a.adminUpdateUser))
	a.mux.HandleFunc("POST /admin/usuarios/{id}/contrasena", a.allowed(identity.PermManageUsers, a.adminResetPassword))
	a.mux.HandleFunc("POST /admin/usuarios/{id}/segundo-factor", a.allowed(identity.PermManageUsers, a.adminResetTOTP))
	a.mux.HandleFunc("POST /admin/usuarios/{id}/desbloquear", a.allowed(identity.PermManageUsers, a.adminUnlock))
	a.mux.HandleFunc("GET /admin/tokens", a.allowed(identity.PermManageUsers, a.adminTokens))
	a.mux.HandleFunc("POST /admin/tokens/{id}/revocar", a.allowed(identity.PermManageUsers, a.adminRevokeToken))
	a.mux.HandleFunc("GET /admin/sistema", a.allowed(identity.PermConfigure, a.adminSystem))
	return nil
}

// allowed is full for users whose roles grant p; others get 403.
func (a *App) allowed(p identity.Permission, h func(http.ResponseWriter, *http.Request, *req)) http.HandlerFunc {
	return a.full(func(w http.ResponseWriter, r *http.Request, q *req) {
		if !q.user.Can(p) {
			a.fail(w, r, http.StatusForbidden, identity.ErrForbidden)
			return
		}
		h(w, r, q)
	})
}

// when formats a time for people in the page's time zone: dd/mm/aaaa hh:mm in
// Spanish (es-MX), yyyy-mm-dd hh:mm in English, with the zone's abbreviation;
// "—" for the zero time.
func (a *App) when(l i18n.Lang, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if l == i18n.EN {
		return t.In(a.opt.TZ).Format("2006-01-02 15:04 MST")
	}
	return t.In(a.opt.TZ).Format("02/01/2006 15:04 MST")
}

// day parses a yyyy-mm-dd date field as the start of that day in the page's
// time zone (ok false when it is not one; zero time for "").
func (a *App) day(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation("2006-01-02", s, a.opt.TZ)
	return t, err == nil
}

// flash is the confirmation text of a redirect's ?hecho= (only known keys).
func flash(q *req, v url.Values) string {
	k := v.Get("hecho")
	if k == "" || strings.ContainsAny(k, " /") {
		return ""
	}
	if _, ok := lookupText("done." + k); !ok {
		return ""
	}
	return text(q.lang, "done."+k)
}
