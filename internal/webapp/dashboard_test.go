package webapp

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDashboard: the numbers of a fixture archive, at 12:30 on 15 March 2026
// in Mexico City (UTC−6): Ana's and Beto's messages on 2 March, two records
// today (one of them in the current hour, one quarantined), one on 20
// February (in the 30 days, not this month), one on 1 January (in neither).
func TestDashboard(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 3, 15, 18, 30, 0, 0, time.UTC)
	e.dash.t = now
	for i, at := range []time.Time{now.Add(-20 * time.Minute), now.Add(-3*time.Hour - 30*time.Minute),
		time.Date(2026, 2, 20, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} {
		id := strings.Repeat("0", 63) + string(rune('1'+i))
		var rc []catalog.Reception
		if i == 1 {
			rc = []catalog.Reception{{SHA256: id, Channel: "mx", Source: "s", At: at, Quarantine: true}}
		}
		commitRecord(t, e.cat, id, []byte(`{}`), at, rc)
	}
	root := e.addAdmin(t)
	r := root.get("/inicio")
	if r.code != 200 {
		t.Fatalf("dashboard: %d\n%s", r.code, r.body)
	}
	contains(t, "the administrator's dashboard", r.body,
		`id="hoy">2<`, `id="mes">4<`, `id="ultima-hora">1<`, `id="cuarentena">1<`,
		`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="grafica-horas"`, `id="grafica-dias"`,
		`<td>15/03</td><td class="num">2</td>`, `<td>02/03</td><td class="num">2</td>`,
		`<td>20/02</td><td class="num">1</td>`, `<td>12:00</td><td class="num">1</td>`, `<td>09:00</td><td class="num">1</td>`,
		`<title>15/03: 2</title>`, "2 entradas sin sello aún", "2 mensajes por indexar", "CN=TSA de prueba",
		"en espera</span> 3", "fallidos</span> 1", "ClamAV 1.4.2", "1.2 ms", "connection refused", `class="badge bad"><span>icap`)
	lacks(t, "the dashboard", r.body, "style=", "<script>", `<td>01/01</td>`)
	if n := strings.Count(r.body, `<tr><td>`); n != 24+30 {
		t.Errorf("%d chart table rows, want 24 + 30", n)
	}
	// English, with the same numbers.
	en := root.get("/inicio?lang=en").body
	contains(t, "the English dashboard", en, "today", "this month", "<td>03-15</td>", "Messages archived per hour")

	// A servidor público sees her own mail and no institution-wide figures.
	ana := e.browser(t)
	ana.full("ana")
	r = ana.get("/inicio")
	contains(t, "ana's dashboard", r.body, `id="mis-mensajes">1<`, `id="sin-avisos"`)
	lacks(t, "ana's dashboard", r.body, `id="hoy"`, "grafica", "Operación", "clamav")
	// The auditor sees the volumes, not the operations.
	olga := e.browser(t)
	olga.full("olga")
	r = olga.get("/inicio")
	contains(t, "olga's dashboard", r.body, `id="hoy">2<`, "grafica-dias")
	lacks(t, "olga's dashboard", r.body, `id="cuarentena"`, "clamav", `id="sello"`)
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[int64]int64{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 250: 500, 1001: 2000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestChartGolden: the SVG of a chart, byte for byte (go test -update rewrites
// testdata/*.svg).
func TestChartGolden(t *testing.T) {
	hours := chart{ID: "grafica-horas", Title: "Mensajes por hora <prueba>", Every: 3}
	for i := 0; i < 24; i++ {
		hours.Labels = append(hours.Labels, time.Date(2026, 3, 15, i, 0, 0, 0, time.UTC).Format("15:04"))
		hours.Values = append(hours.Values, int64((i*37)%23)*120)
	}
	days := chart{ID: "grafica-dias", Title: "Days", Every: 5, Labels: []string{"a", "b", "c"}, Values: []int64{0, 0, 0}}
	for _, tc := range []struct {
		name string
		c    chart
		lang i18n.Lang
	}{
		{"chart_hours.svg", hours, i18n.ES},
		{"chart_empty.svg", days, i18n.EN},
		{"chart_none.svg", chart{ID: "x", Title: "none"}, i18n.ES},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.SVG(printer(tc.lang))
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got+"\n" != string(want) {
				t.Fatalf("%s differs from the golden file (go test -run TestChartGolden -update)\ngot:\n%s", tc.name, got)
			}
			if strings.Contains(got, "style") || strings.Contains(got, "<script") || strings.Contains(got, "<prueba>") {
				t.Fatal("the chart must have no style attribute, no script, and escaped text")
			}
		})
	}
}
