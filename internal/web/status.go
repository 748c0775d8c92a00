// Package web serves Resguardo over HTTP. For now: the status page (Spanish first,
// English with ?lang=en or Accept-Language), /healthz for probes, and the status as
// JSON at /api/v1/status. Later issues add the application and the JSON API here.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/i18n"
)

//go:embed templates/*.html
var templateFS embed.FS

// Status is what the status page shows.
type Status struct {
	Version      string    `json:"version"`
	DataDir      string    `json:"data_dir"`
	Origin       string    `json:"ledger_origin"`
	Records      int64     `json:"records"`
	Bytes        int64     `json:"bytes"`
	Malformed    int64     `json:"malformed"`
	LedgerSize   int64     `json:"ledger_size"`
	LedgerRoot   string    `json:"ledger_root"`
	CheckpointAt time.Time `json:"checkpoint_at"`
	PublicKey    string    `json:"ledger_public_key"`
	Started      time.Time `json:"started"`
}

// StatusFunc reports the current status.
type StatusFunc func(ctx context.Context) (Status, error)

// HealthFunc returns nil when the service can archive.
type HealthFunc func(ctx context.Context) error

// Options configures New.
type Options struct {
	Status StatusFunc
	Health HealthFunc
	Logger *slog.Logger
	TZ     *time.Location
	// LedgerDir, when set, is served read-only under /ledger/ (C2SP tlog-tiles).
	LedgerDir string
	// Verify, when set, enables the public verification page at /verificar.
	Verify VerifyFunc
	// Metrics, when set, is served at /metrics (Prometheus text format).
	Metrics http.Handler
	// App, when set, is the web application (package webapp): every path the
	// routes above do not take goes to it. It sets its own, stricter headers.
	App http.Handler
}

// Server is the HTTP handler.
type Server struct {
	opt  Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New returns the handler.
func New(opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.TZ == nil {
		opt.TZ = time.UTC
	}
	s := &Server{opt: opt, mux: http.NewServeMux()}
	funcs := template.FuncMap{}
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	s.tmpl = t
	s.mux.HandleFunc("GET /{$}", s.handleStatusPage)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("GET /api/v1/status", s.handleStatusJSON)
	if opt.Verify != nil {
		s.mux.HandleFunc("GET /verificar", s.handleVerifyForm)
		s.mux.HandleFunc("POST /verificar", s.handleVerify)
	}
	if opt.LedgerDir != "" {
		s.mux.Handle("/ledger/", LedgerHandler(opt.LedgerDir))
	}
	if opt.Metrics != nil {
		s.mux.Handle("GET /metrics", opt.Metrics)
	}
	if opt.App != nil {
		s.mux.Handle("/", opt.App)
	}
	return s, nil
}

// ServeHTTP adds security headers to every response.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func lang(r *http.Request) i18n.Lang {
	if l := r.URL.Query().Get("lang"); l != "" {
		return i18n.Detect(l, func(string) string { return "" })
	}
	// The web application's choice, remembered in its lang cookie.
	if c, err := r.Cookie("lang"); err == nil {
		if c.Value == "en" {
			return i18n.EN
		}
		return i18n.ES
	}
	if al := r.Header.Get("Accept-Language"); strings.HasPrefix(strings.ToLower(al), "en") {
		return i18n.EN
	}
	return i18n.ES
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.opt.Health(ctx); err != nil {
		s.opt.Logger.Warn("health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "unavailable"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}

func (s *Server) handleStatusJSON(w http.ResponseWriter, r *http.Request) {
	st, err := s.opt.Status(r.Context())
	if err != nil {
		s.opt.Logger.Error("status", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}

type pageData struct {
	Lang   string
	T      func(string) string
	S      Status
	Rows   [][2]string
	Health bool
	App    bool // the web application is mounted: link its login page
}

func (s *Server) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.opt.Status(r.Context())
	if err != nil {
		s.opt.Logger.Error("status", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	l := lang(r)
	p := i18n.Printer{Lang: l}
	t := func(k string) string { return pageText(l, k) }
	cp := "—"
	if !st.CheckpointAt.IsZero() {
		cp = st.CheckpointAt.In(s.opt.TZ).Format("2006-01-02 15:04:05 MST")
	}
	d := pageData{Lang: string(l), T: t, S: st, Health: s.opt.Health(r.Context()) == nil, App: s.opt.App != nil}
	d.Rows = [][2]string{
		{t("records"), p.Int(st.Records)},
		{t("bytes"), p.Bytes(st.Bytes)},
		{t("malformed"), p.Int(st.Malformed)},
		{t("ledger"), p.Int(st.LedgerSize)},
		{t("root"), st.LedgerRoot},
		{t("checkpoint"), cp},
		{t("origin"), st.Origin},
		{t("pubkey"), st.PublicKey},
		{t("datadir"), st.DataDir},
		{t("version"), st.Version},
		{t("started"), st.Started.In(s.opt.TZ).Format("2006-01-02 15:04:05 MST")},
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.tmpl.ExecuteTemplate(w, "status.html", d); err != nil {
		s.opt.Logger.Error("render status", "err", err)
	}
}

func pageText(l i18n.Lang, k string) string {
	es := map[string]string{
		"title": "Resguardo — estado", "heading": "Estado del archivo de correo", "ok": "En servicio", "down": "Con fallas",
		"records": "Registros archivados", "bytes": "Tamaño original", "malformed": "Malformados (conservados)",
		"ledger": "Entradas en la bitácora", "root": "Raíz del árbol de Merkle", "checkpoint": "Último punto de control firmado",
		"origin": "Origen de la bitácora", "pubkey": "Clave pública de la bitácora", "datadir": "Directorio de datos",
		"version": "Versión", "started": "En servicio desde", "other": "English", "login": "Iniciar sesión",
		"note": "Cada mensaje se guarda tal como llegó, cifrado, y queda registrado en una bitácora a prueba de alteraciones.",
	}
	en := map[string]string{
		"title": "Resguardo — status", "heading": "Mail archive status", "ok": "Operational", "down": "Degraded",
		"records": "Archived records", "bytes": "Original size", "malformed": "Malformed (kept)",
		"ledger": "Ledger entries", "root": "Merkle tree root", "checkpoint": "Latest signed checkpoint",
		"origin": "Ledger origin", "pubkey": "Ledger public key", "datadir": "Data directory",
		"version": "Version", "started": "Running since", "other": "Español", "login": "Log in",
		"note": "Every message is kept exactly as received, encrypted, and entered in a tamper-evident ledger.",
	}
	if l == i18n.EN {
		return en[k]
	}
	return es[k]
}
