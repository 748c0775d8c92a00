package webapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/export"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/search/query"
)

// Export of a result set: the search page's "Exportar" (POST /buscar/exportar)
// and POST /api/v1/export write the package of `resguardo export` (package
// export: messages, constancias, manifests, signed seal) for the messages of a
// query that the user may read, with one access entry (action export, the
// canonical query, the manifest's SHA-256 and every id).

// MaxExport is the default bound on the messages of an export from the web or
// the API (Options.MaxExport); larger sets are exported with `resguardo export`.
const MaxExport = 10_000

// ExportRequest is what the access entry of an export says besides the ids.
type ExportRequest struct {
	Query         string // canonical, with the participant restriction when there is one
	Actor         string // user:<login>
	Justification string
	Via           string // archive.AccessDetail.Via
}

// errExportTooLarge is a query with more than Options.MaxExport results.
type errExportTooLarge struct{ total, max uint64 }

func (e *errExportTooLarge) Error() string { return fmt.Sprintf("export: %d results", e.total) }

func (e *errExportTooLarge) message(l i18n.Lang) string {
	pr := printer(l)
	if l == i18n.EN {
		return fmt.Sprintf("An export from the web holds at most %s messages; this search has %s. Narrow the query, or ask the archive's operator for `resguardo export`.",
			pr.Int(int64(e.max)), pr.Int(int64(e.total)))
	}
	return fmt.Sprintf("Una exportación desde la web admite hasta %s mensajes; esta búsqueda tiene %s. Acote la consulta o solicite al responsable del archivo una exportación con `resguardo export`.",
		pr.Int(int64(e.max)), pr.Int(int64(e.total)))
}

// exportFile is a finished export: its file (in a temporary directory that
// close removes) and what it holds.
type exportFile struct {
	dir, path string
	res       *export.Result
}

func (f *exportFile) close() { os.RemoveAll(f.dir) }

// runExport exports the results of sq (its text) for u: PermExport,
// justification and participant restriction as for a search; at most
// MaxExport messages (*errExportTooLarge). The export package writes the
// access entry; when it cannot, nothing is returned.
func (a *App) runExport(ctx context.Context, u who, text string) (*exportFile, error) {
	if a.opt.Export == nil || !u.user.Can(identity.PermExport) {
		return nil, identity.ErrForbidden
	}
	if needsJustification(u) {
		return nil, identity.ErrJustificationRequired
	}
	n, err := query.Parse(text)
	if err != nil {
		return nil, err
	}
	sr := search.Request{Query: n, Limit: 1}
	canonical := query.String(n)
	if !u.user.ReadsOthersMail() {
		sr.Participants = u.user.Addresses
		canonical = "(" + canonical + ") AND participant:{" + strings.Join(u.user.Addresses, ",") + "}"
	}
	var ids []string
	if u.user.ReadsOthersMail() || len(u.user.Addresses) > 0 {
		res, err := a.opt.Index.Search(ctx, sr)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		limit := a.opt.MaxExport
		if res.Total > uint64(limit) {
			return nil, &errExportTooLarge{total: res.Total, max: uint64(limit)}
		}
		errFull := errors.New("full")
		err = a.opt.Index.Scan(ctx, sr, func(h search.Hit) error {
			if len(ids) == limit {
				return errFull
			}
			ids = append(ids, h.ID)
			return nil
		})
		if errors.Is(err, errFull) { // the index grew between the count and the scan
			return nil, &errExportTooLarge{total: uint64(limit) + 1, max: uint64(limit)}
		}
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "resguardo-export-")
	if err != nil {
		return nil, err
	}
	f := &exportFile{dir: dir, path: filepath.Join(dir, "exportacion.zip")}
	f.res, err = a.opt.Export(ctx, f.path, ids, ExportRequest{Query: canonical, Actor: u.user.Actor(), Justification: u.just.Text, Via: u.via})
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// sendExport sends a finished export as a download, with its manifest's
// SHA-256 and the count of messages without a constancia in headers.
func (a *App) sendExport(w http.ResponseWriter, f *exportFile) {
	defer f.close()
	in, err := os.Open(f.path)
	if err != nil {
		a.opt.Logger.Error("export", "err", err)
		http.Error(w, "", http.StatusInternalServerError)
		return
	}
	defer in.Close()
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	name := "resguardo-exportacion-" + time.Now().In(a.opt.TZ).Format("20060102-150405") + ".zip"
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Resguardo-Manifest-SHA256", f.res.Manifest)
	h.Set("X-Resguardo-Messages", strconv.FormatInt(f.res.Count, 10))
	h.Set("X-Resguardo-Constancias-Pending", strconv.FormatInt(f.res.Pending, 10))
	if st, err := in.Stat(); err == nil {
		h.Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	}
	if _, err := io.Copy(w, in); err != nil {
		a.opt.Logger.Warn("export not sent whole", "err", err)
	}
}

// exportPage is POST /buscar/exportar: the search form's fields (q, de, para,
// desde, hasta, adjuntos, palabras) and the CSRF token.
func (a *App) exportPage(w http.ResponseWriter, r *http.Request, q *req) {
	if a.opt.Export == nil || !q.user.Can(identity.PermExport) {
		a.fail(w, r, http.StatusForbidden, identity.ErrForbidden)
		return
	}
	f := formOf(r.PostForm)
	back := "/buscar?" + f.values().Encode()
	if needsJustification(q.who()) {
		p := q.page("justify.title")
		p.Data = justifyData{Return: back}
		a.render(w, http.StatusOK, "justify", p)
		return
	}
	p := q.page("error.title")
	qt, err := f.queryText()
	if err == nil && f.empty() {
		err = errExportEmpty
	}
	if err != nil {
		p.Error = text(q.lang, "export.noquery")
		if errors.Is(err, errDate) {
			p.Error = text(q.lang, "search.baddate")
		}
		a.render(w, http.StatusBadRequest, "error", p)
		return
	}
	ef, err := a.runExport(r.Context(), q.who(), qt)
	var se *query.SyntaxError
	var tl *errExportTooLarge
	switch {
	case err == nil:
		a.sendExport(w, ef)
	case errors.As(err, &se):
		p.Error = se.MsgES
		if p.EN() {
			p.Error = se.Msg
		}
		a.render(w, http.StatusBadRequest, "error", p)
	case errors.As(err, &tl):
		p.Error = tl.message(q.lang)
		a.render(w, http.StatusBadRequest, "error", p)
	case errors.Is(err, identity.ErrForbidden):
		a.fail(w, r, http.StatusForbidden, err)
	default:
		a.fail(w, r, http.StatusInternalServerError, err)
	}
}

var errExportEmpty = errors.New("export: no query")

// apiExportRequest is POST /api/v1/export's body.
type apiExportRequest struct {
	Query string `json:"query"`
}

// apiExport is POST /api/v1/export {"query": "…"}: the zip.
func (a *App) apiExport(w http.ResponseWriter, r *http.Request, q *apiReq) {
	var in apiExportRequest
	if !a.readJSON(w, r, &in) {
		return
	}
	if !needsJustification(q.who) && strings.TrimSpace(in.Query) == "" {
		a.apiError(w, r, http.StatusBadRequest, errAPIQueryRequired)
		return
	}
	ef, err := a.runExport(r.Context(), q.who, in.Query)
	var se *query.SyntaxError
	var tl *errExportTooLarge
	switch {
	case err == nil:
		a.sendExport(w, ef)
	case errors.As(err, &se):
		msg := se.MsgES
		if langOf(r) == i18n.EN {
			msg = se.Msg
		}
		a.writeJSON(w, http.StatusBadRequest, apiErrorBody{apiErrorDetail{Code: "query_syntax", Message: msg, Caret: se.Caret(in.Query)}})
	case errors.As(err, &tl):
		a.writeJSON(w, http.StatusBadRequest, apiErrorBody{apiErrorDetail{Code: "export_too_large", Message: tl.message(langOf(r))}})
	default:
		a.apiFail(w, r, err)
	}
}
