package webapp

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/identity"
)

var accessRowRE = regexp.MustCompile(`(?s)<tr>\s*<td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>.*?</tr>`)

// rowsOf returns the (who, action) of each access row of a page.
func rowsOf(body string) [][2]string {
	var out [][2]string
	for _, m := range accessRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, [2]string{m[1], m[2]})
	}
	return out
}

// TestWhoReadMyMail: an auditor searches (both messages in the results) and
// reads Ana's and Beto's messages with a justification; Ana reads her own.
// Ana's page shows the auditor's search and read of her message with the
// justification and ledger index, not her own read nor the accesses to
// Beto's mail; Beto's the reverse. The auditor's page lists everyone's, with
// filters. Every view of an access-log page is an access entry.
func TestWhoReadMyMail(t *testing.T) {
	e := newEnv(t)
	olga := e.browser(t)
	olga.full("olga")
	j := olga.get("/buscar?q=contrato")
	why := "Auditoría 12/2026 sobre contratos de obra"
	if r := olga.post("/justificacion", url.Values{"csrf": {csrfOf(t, j.body)}, "justificacion": {why}, "volver": {"/buscar"}}); r.code != http.StatusSeeOther {
		t.Fatalf("justification: %d", r.code)
	}
	if r := olga.get("/buscar?q=contrato"); !strings.Contains(r.body, `id="total">2<`) {
		t.Fatalf("auditor search:\n%s", r.body)
	}
	if s := e.lastAccess(); s.Action != "search" || len(s.Records) != 2 {
		t.Fatalf("the search entry must list the ids shown: %+v", s)
	}
	for _, id := range []string{e.xssID, e.betoID} {
		if r := olga.get("/mensaje/" + id); r.code != 200 {
			t.Fatalf("auditor read: %d", r.code)
		}
	}
	ana := e.browser(t)
	ana.full("ana")
	if r := ana.get("/mensaje/" + e.xssID); r.code != 200 {
		t.Fatalf("own read: %d", r.code)
	}

	r := ana.get("/cuenta/accesos")
	if r.code != 200 {
		t.Fatalf("ana's accesses: %d", r.code)
	}
	rows := rowsOf(r.body)
	if len(rows) != 2 || rows[0] != [2]string{"olga", "Lectura"} || rows[1] != [2]string{"olga", "Búsqueda"} {
		t.Fatalf("ana's rows %v:\n%s", rows, r.body)
	}
	contains(t, "ana's page", r.body, why, "/mensaje/"+e.xssID, "apareció en los resultados de una búsqueda", ">mensaje<")
	lacks(t, "ana's page", r.body, e.betoID, "contrato</td>") // not Beto's message, nor the auditor's query
	if !regexp.MustCompile(`<td class="num">\d+</td>\s*</tr>`).MatchString(r.body) {
		t.Error("no ledger index on ana's page")
	}
	if d := e.lastAccess(); d.Actor != "user:ana" || d.Action != "access_log" || !strings.Contains(d.Query, "ana@ejemplo.gob.mx") {
		t.Fatalf("viewing the access log must be an access entry: %+v", d)
	}
	// Ana's viewing of her page is not an access to her mail: the page is unchanged.
	if again := rowsOf(ana.get("/cuenta/accesos").body); len(again) != 2 {
		t.Fatalf("rows after a second view: %v", again)
	}
	// The dashboard shows the latest notices.
	contains(t, "ana's dashboard", ana.get("/inicio").body, `id="avisos"`, "<strong>olga</strong>", why)

	beto := e.browser(t)
	beto.full("beto")
	r = beto.get("/cuenta/accesos")
	if rows := rowsOf(r.body); len(rows) != 2 {
		t.Fatalf("beto's rows %v", rows)
	}
	contains(t, "beto's page", r.body, "/mensaje/"+e.betoID)
	lacks(t, "beto's page", r.body, e.xssID)

	// Everyone's log, for the auditor, with filters.
	for _, tc := range []struct {
		name  string
		query string
		code  int
		rows  int
		want  []string
	}{
		{"reads by olga", "?usuario=olga&accion=read", 200, 2, []string{"Lectura", e.xssID[:12]}},
		{"actor with prefix", "?usuario=user:ana&accion=read", 200, 1, nil},
		{"one record", "?registro=" + strings.ToUpper(e.betoID), 200, 2, []string{"Búsqueda", "Lectura"}},
		{"dates", "?desde=2000-01-01&hasta=2099-12-31&accion=search", 200, 1, []string{"contrato"}},
		{"nothing before 2000", "?hasta=1999-12-31", 200, 0, []string{`id="sin-accesos"`}},
		{"bad record", "?registro=abc", 400, 0, []string{"SHA-256"}},
		{"bad date", "?desde=2026-13-01", 400, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := olga.get("/auditoria/accesos" + tc.query)
			if r.code != tc.code {
				t.Fatalf("%d, want %d", r.code, tc.code)
			}
			if rows := rowsOf(r.body); len(rows) != tc.rows {
				t.Fatalf("rows %v, want %d", rows, tc.rows)
			}
			contains(t, tc.name, r.body, tc.want...)
		})
	}
	if d := e.lastAccess(); d.Actor != "user:olga" || d.Action != "access_log" || d.Query != "until:1999-12-31" || d.Justification != why {
		t.Fatalf("view entry: %+v", d)
	}
	// The action filter offers the actions that occur.
	contains(t, "the filter", olga.get("/auditoria/accesos").body, `<option value="access_log">`, `<option value="search">`)
}

// TestAccessLogPaging: 50 entries a page, older ones behind a link.
func TestAccessLogPaging(t *testing.T) {
	e := newEnv(t)
	root := e.addAdmin(t)
	for i := 0; i < 60; i++ {
		root.get("/auditoria/accesos?usuario=nadie") // each view is an entry
	}
	r := root.get("/auditoria/accesos?accion=access_log")
	if rows := rowsOf(r.body); len(rows) != 50 {
		t.Fatalf("first page: %d rows", len(rows))
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no link to older entries")
	}
	r = root.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if rows := rowsOf(r.body); len(rows) != 10 || !strings.Contains(r.body, "Más recientes") {
		t.Fatalf("second page: %d rows", len(rows))
	}
}

// TestAccessVia: an access through the API says so on the person's page, with
// the token's prefix and id; one through the pages does not.
func TestAccessVia(t *testing.T) {
	e := newEnv(t)
	tok := e.newToken(t, "olga", identity.ScopeRead)
	why := "Solicitud de información 330/2026 por API"
	if r := e.apiGet(t, tok, "/api/v1/messages/"+e.xssID, JustificationHeader, why); r.code != 200 {
		t.Fatalf("API read: %d %s", r.code, r.body)
	}
	d := e.lastAccess()
	if !strings.HasPrefix(d.Via, "api-token:"+tok[:12]) {
		t.Fatalf("access entry via %q, want the token's prefix %q", d.Via, tok[:12])
	}
	ana := e.browser(t)
	ana.full("ana")
	r := ana.get("/cuenta/accesos")
	contains(t, "ana's page", r.body, "olga · vía API, token "+tok[:12], why)
}
