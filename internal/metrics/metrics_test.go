package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/scan"
)

func TestMetrics(t *testing.T) {
	m := New()
	m.Verdict("mx", "quarantine")
	m.Verdict("mx", "accept")
	m.Verdict("mx", "accept")
	m.Scans([]scan.Result{{Engine: "clamav-1", Verdict: scan.Infected, TookMS: 12}, {Engine: "icap", Verdict: scan.Error, TookMS: 1000}})
	m.Spam("bayes", 0.999, "spam")
	m.Relay("next_hop", "delivered", 3)
	m.Relay("mx", "failed", 0) // nothing counted
	if err := m.Register(NewGaugeFunc("resguardo_relay_queue_entries", "queue", "state", func() map[string]float64 {
		return map[string]float64{"queued": 4, "held": 1}
	})); err != nil {
		t.Fatal(err)
	}
	var nilM *Metrics // every method is safe on nil
	nilM.Verdict("mx", "accept")
	nilM.Scans([]scan.Result{{Engine: "x"}})
	nilM.Spam("x", 1, "spam")
	nilM.Relay("mx", "delivered", 1)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`resguardo_smtp_messages_total{channel="mx",verdict="accept"} 2`,
		`resguardo_smtp_messages_total{channel="mx",verdict="quarantine"} 1`,
		`resguardo_av_scans_total{engine="clamav-1",result="infected"} 1`,
		`resguardo_av_scans_total{engine="icap",result="error"} 1`,
		`resguardo_av_detections_total{engine="clamav-1"} 1`,
		`resguardo_av_scan_seconds_count{engine="clamav-1"} 1`,
		`resguardo_spam_verdicts_total{engine="bayes",verdict="spam"} 1`,
		`resguardo_relay_recipients_total{result="delivered",route="next_hop"} 3`,
		`resguardo_relay_queue_entries{state="queued"} 4`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(string(body), `route="mx"`) {
		t.Errorf("a zero count was exported")
	}
}
