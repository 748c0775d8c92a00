// Package metrics exposes Resguardo's Prometheus metrics at /metrics (issue 6):
// messages per channel and verdict, antivirus scans, detections, errors and
// latency per engine, engine health, spam scores, relay attempts and the
// outbound queue. It uses the Prometheus Go client (client_golang); every
// method is safe on a nil *Metrics, so wiring is optional.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/resguardo/resguardo/internal/scan"
)

// Metrics holds the registry and the instruments.
type Metrics struct {
	reg        *prometheus.Registry
	messages   *prometheus.CounterVec
	scans      *prometheus.CounterVec
	detections *prometheus.CounterVec
	scanSecs   *prometheus.HistogramVec
	spamScore  *prometheus.HistogramVec
	spam       *prometheus.CounterVec
	relay      *prometheus.CounterVec
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resguardo_smtp_messages_total",
		Help: "Messages received by the SMTP gateway, by channel and verdict (accept, quarantine, reject, tempfail)."}, []string{"channel", "verdict"})
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resguardo_av_scans_total",
		Help: "Antivirus scans per engine and result (clean, infected, error)."}, []string{"engine", "result"})
	m.detections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resguardo_av_detections_total",
		Help: "Messages in which an engine detected something."}, []string{"engine"})
	m.scanSecs = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resguardo_av_scan_seconds",
		Help: "Time an engine took for one message (all its parts).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"engine"})
	m.spamScore = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "resguardo_spam_score",
		Help: "Spam scores given by each antispam engine.", Buckets: prometheus.LinearBuckets(-5, 2.5, 13)}, []string{"engine"})
	m.spam = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resguardo_spam_verdicts_total",
		Help: "Antispam verdicts per engine (spam, ham, error)."}, []string{"engine", "verdict"})
	m.relay = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resguardo_relay_recipients_total",
		Help: "Relay attempts per route and result (delivered, deferred, failed), counted per recipient."}, []string{"route", "result"})
	m.reg.MustRegister(m.messages, m.scans, m.detections, m.scanSecs, m.spamScore, m.spam, m.relay,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Register adds a collector (queue sizes, engine health).
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(c)
}

// Verdict counts a message's verdict on a channel.
func (m *Metrics) Verdict(channel, verdict string) {
	if m != nil {
		m.messages.WithLabelValues(channel, verdict).Inc()
	}
}

// Scans records one message's antivirus results.
func (m *Metrics) Scans(rs []scan.Result) {
	if m == nil {
		return
	}
	for _, r := range rs {
		m.scans.WithLabelValues(r.Engine, string(r.Verdict)).Inc()
		if r.Verdict == scan.Infected {
			m.detections.WithLabelValues(r.Engine).Inc()
		}
		m.scanSecs.WithLabelValues(r.Engine).Observe(r.TookMS / 1000)
	}
}

// Spam records one antispam engine's score and verdict ("spam", "ham", "error").
func (m *Metrics) Spam(engine string, score float64, verdict string) {
	if m == nil {
		return
	}
	m.spam.WithLabelValues(engine, verdict).Inc()
	if verdict != "error" {
		m.spamScore.WithLabelValues(engine).Observe(score)
	}
}

// Relay counts n recipients of one attempt on route with result.
func (m *Metrics) Relay(route, result string, n int) {
	if m != nil && n > 0 {
		m.relay.WithLabelValues(route, result).Add(float64(n))
	}
}

// GaugeFunc is a collector of gauges read at scrape time: fn returns the value
// per label value.
type GaugeFunc struct {
	desc *prometheus.Desc
	fn   func() map[string]float64
}

// NewGaugeFunc describes a gauge with one label, read from fn on each scrape.
func NewGaugeFunc(name, help, label string, fn func() map[string]float64) *GaugeFunc {
	return &GaugeFunc{desc: prometheus.NewDesc(name, help, []string{label}, nil), fn: fn}
}

// Describe implements prometheus.Collector.
func (g *GaugeFunc) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *GaugeFunc) Collect(ch chan<- prometheus.Metric) {
	for k, v := range g.fn() {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v, k)
	}
}
