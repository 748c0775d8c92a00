package webapp

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzSanitize: whatever the mail's HTML, the sanitized body has no script
// element or tag text, no on… attribute, no javascript: or vbscript: URL in
// any attribute, no element outside the mail allowlist, no href but http(s)
// and mailto, no src but data: images (unsafeMarkup, reading it as a browser
// would). go test -fuzz FuzzSanitize ./internal/webapp/
func FuzzSanitize(f *testing.F) {
	for _, tc := range hostileHTML {
		f.Add(tc.in)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "boletin.in")); err == nil {
		f.Add(string(b))
	}
	f.Add(`<img src="cid:logo"><img src="CID:x%40y" alt="a"><a href="cid:logo">c</a><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">`)
	f.Add(`<a href="ja&#x0A;vascript:alert(1)">x</a><a href="&#106;avascript:alert(1)">y</a><img src="jav	ascript:alert(1)">`)
	f.Add(`<div style="color: red; font: 12px/1 a\,b; background-color: rgb(1,2,3)">x</div>`)
	s := newSanitizer()
	cid := func(string) string { return "data:image/png;base64,iVBORw0KGgo=" }
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range []cidResolver{nil, cid} {
			out := s.clean(in, r).html
			for _, p := range unsafeMarkup(out) {
				t.Fatalf("%s\ninput:  %q\noutput: %q", p, in, out)
			}
		}
	})
}
