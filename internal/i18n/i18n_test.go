package i18n

import "testing"

func TestNumbers(t *testing.T) {
	t.Parallel()
	p := Printer{Lang: ES}
	for _, tc := range []struct {
		got, want string
	}{
		{p.Int(0), "0"}, {p.Int(999), "999"}, {p.Int(1000), "1,000"}, {p.Int(1234567), "1,234,567"}, {p.Int(-4500), "-4,500"},
		{p.Float(5123.456, 1), "5,123.5"}, {p.Float(0.25, 2), "0.25"},
		{p.Bytes(512), "512 B"}, {p.Bytes(1536), "1.5 KiB"}, {p.Bytes(5 << 20), "5.0 MiB"}, {p.Bytes(3 << 30), "3.00 GiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestDetectAndCatalog(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		flag string
		env  map[string]string
		want Lang
	}{
		{"", nil, ES},
		{"en", nil, EN},
		{"es", map[string]string{"RESGUARDO_LANG": "en"}, ES},
		{"", map[string]string{"RESGUARDO_LANG": "en-US"}, EN},
		{"", map[string]string{"LANG": "en_US.UTF-8"}, EN},
		{"", map[string]string{"LANG": "es_MX.UTF-8"}, ES},
		{"", map[string]string{"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8"}, ES},
	} {
		if got := Detect(tc.flag, env(tc.env)); got != tc.want {
			t.Errorf("Detect(%q, %v) = %s, want %s", tc.flag, tc.env, got, tc.want)
		}
	}
	for k, m := range messages {
		if m.es == "" || m.en == "" {
			t.Errorf("message %q lacks a translation", k)
		}
	}
	if got := (Printer{Lang: EN}).T("import.more", "3"); got != "  … and 3 more" {
		t.Errorf("T = %q", got)
	}
}
