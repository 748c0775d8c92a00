package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/resguardo/resguardo/internal/i18n"
)

// The public pages follow ?lang=, then the web application's lang cookie, then
// Accept-Language.
func TestLang(t *testing.T) {
	for _, tc := range []struct {
		url, cookie, accept string
		want                i18n.Lang
	}{
		{"/verificar", "", "", i18n.ES},
		{"/verificar", "", "en-US,en;q=0.9", i18n.EN},
		{"/verificar", "es", "en-US,en;q=0.9", i18n.ES},
		{"/verificar", "en", "", i18n.EN},
		{"/verificar?lang=es", "en", "en-US", i18n.ES},
		{"/verificar?lang=en", "es", "", i18n.EN},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "lang", Value: tc.cookie})
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := lang(r); got != tc.want {
			t.Errorf("%s cookie %q Accept-Language %q: %v, want %v", tc.url, tc.cookie, tc.accept, got, tc.want)
		}
	}
}
