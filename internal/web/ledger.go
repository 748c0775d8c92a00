package web

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// tilePath matches C2SP tlog-tiles paths: tile/<L>/<N>[.p/<W>] and
// tile/entries/<N>[.p/<W>], N in three-digit groups prefixed with x.
var tilePath = regexp.MustCompile(`^tile/(?:[0-9]|[1-5][0-9]|6[0-3]|entries)/(?:x[0-9]{3}/)*[0-9]{3}(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?$`)

// LedgerHandler serves the log read-only in the C2SP tlog-tiles layout under
// /ledger/: the latest checkpoint and every tile and entry bundle, so any client can
// audit the whole log. Full tiles never change and are cacheable for ever.
func LedgerHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rel := strings.TrimPrefix(r.URL.Path, "/ledger/")
		switch {
		case rel == "checkpoint":
			w.Header().Set("Cache-Control", "no-cache")
		case tilePath.MatchString(rel):
			if strings.Contains(rel, ".p/") {
				w.Header().Set("Cache-Control", "public, max-age=3600")
			} else {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			}
		default:
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if rel == "checkpoint" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		w.Write(b)
	})
}
