package webapp

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// LinkPath is the page a web link in a mail body opens (in a new tab): it
// shows where the link really goes — the host in full, punycode decoded — and
// is followed only by a click, without a Referer. The page needs no login:
// it shows only the address it was given.
const LinkPath = "/enlace"

type linkPage struct {
	URL, Host string
	Mismatch  bool // the host's Unicode form differs from its ASCII form (a look-alike domain?)
}

func (a *App) link(w http.ResponseWriter, r *http.Request) {
	l := langOf(r)
	raw := r.URL.Query().Get("u")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 8<<10 {
		p := &page{Lang: l, Title: text(l, "error.title"), Error: text(l, "link.bad")}
		a.render(w, http.StatusBadRequest, "error", p)
		return
	}
	host := u.Hostname()
	shown := host
	if uni, err := idna.ToUnicode(host); err == nil && uni != host {
		shown = uni + " (" + host + ")"
	}
	p := &page{Lang: l, Title: text(l, "link.title"),
		Data: linkPage{URL: u.String(), Host: shown, Mismatch: strings.Contains(host, "xn--")}}
	a.render(w, http.StatusOK, "link", p)
}
