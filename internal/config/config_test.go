package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	c, err := Parse("empty.toml", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "./resguardo-data" || c.Server.Listen != "127.0.0.1:8025" || c.Archive.BatchDelay.D() != 5*time.Millisecond {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	src := `# Secretaría de Finanzas — archivo de correo
data = "/var/lib/resguardo"

[server]
listen = "0.0.0.0:8443"

[archive]
origin = "correo.finanzas.ejemplo.gob.mx/resguardo"
pack_size = "1GiB"
batch_delay = "5ms"

[limits]
max_message_size = 52428800
`
	c, err := Parse("ok.toml", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive.PackSize != 1<<30 || c.Limits.MaxMessageSize != 50<<20 || c.Archive.BatchDelay.D() != 5*time.Millisecond {
		t.Fatalf("%+v", c)
	}
}

func TestProblemsWithLines(t *testing.T) {
	t.Parallel()
	src := `data = "x"
[server]
listen = "nohost"
colour = "blue"

[log]
level = "loud"

[archive]
zstd_level = 9
batch_delay = "soon"
`
	_, err := Parse("bad.toml", strings.NewReader(src))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	// batch_delay fails while decoding, before the others are validated.
	if len(ce.Problems) != 1 || !strings.Contains(ce.Error(), "soon") {
		t.Fatalf("got %v", err)
	}
	src = strings.Replace(src, `batch_delay = "soon"`, `batch_delay = "1m"`, 1)
	_, err = Parse("bad.toml", strings.NewReader(src))
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"bad.toml:3: server.listen:",
		"bad.toml:4: server.colour: unknown setting",
		"bad.toml:7: log.level:",
		"bad.toml:10: archive.zstd_level:",
		"bad.toml:11: archive.batch_delay:",
	}
	got := strings.Split(ce.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d problems:\n%s", len(got), ce)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	_, err := Parse("syn.toml", strings.NewReader("data = \"x\"\n\n[server\nlisten = 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "syn.toml:3:") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"10": 10, "4KiB": 4096, "5MB": 5e6, "1.5GiB": 3 << 29, " 2 MiB ": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "MiB", "1 parsecs"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("data = \"x\"\n[server]\nlisten = \"127.0.0.1:1\"\n")
	f.Add("[archive]\npack_size = \"1GiB\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := Parse("fuzz.toml", strings.NewReader(s))
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
