package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// measure measures the pages one request at a time, after a warm-up, into
// rep.Pages and rep.Queries. It returns the message ids viewed, in order.
func (s *benchWebServer) measure(rep *benchWebReport, say func(string, ...any), ids []string, requests int) ([]string, error) {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.TrimSpace(string(b))
	}
	rng := rand.New(rand.NewPCG(7, 2026))
	// Warm-up, not counted: every query once and ten messages.
	for _, q := range benchWebQueries {
		if _, _, _, err := s.get("/buscar?" + q.Encode()); err != nil {
			return nil, err
		}
	}
	for i := 0; i < 10; i++ {
		if _, _, _, err := s.get("/mensaje/" + ids[rng.IntN(len(ids))]); err != nil {
			return nil, err
		}
	}
	if err := s.measureSearch(rep, say, requests); err != nil {
		return nil, err
	}
	return s.measureMessages(rep, say, rng, ids, requests)
}

// phase requests count pages, the next from next(i), checking each with the
// check next returns, and measures them.
func (s *benchWebServer) phase(name string, target bool, count int, next func(i int) (path string, check func([]byte) error)) (benchWebPage, []float64, error) {
	pid := s.cmd.Process.Pid
	var lat []float64
	size := 0
	cpu0, self0, busy0, t0 := procCPUMS(pid), selfCPUMS(), machineBusyMS(), time.Now()
	for i := 0; i < count; i++ {
		path, check := next(i)
		code, body, d, err := s.get(path)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		if err == nil {
			err = check(body)
		}
		if err != nil {
			return benchWebPage{}, nil, fmt.Errorf("%s %s: %w", name, path, err)
		}
		lat = append(lat, d)
		size += len(body)
	}
	p := benchWebPage{Name: name, Requests: count, Target: target, Bytes: size / max(count, 1),
		CPUPerReq: (procCPUMS(pid) - cpu0) / float64(max(count, 1))}
	p.OtherCores = max(0, machineBusyMS()-busy0-(procCPUMS(pid)-cpu0)-(selfCPUMS()-self0)) / ms(time.Since(t0))
	p.P50, p.P95, p.P99, p.Max = percentiles(lat)
	return p, lat, nil
}

// measureSearch measures the search page, round robin over the queries.
func (s *benchWebServer) measureSearch(rep *benchWebReport, say func(string, ...any), requests int) error {
	totalRE := regexp.MustCompile(`id="total">([^<]*)<`)
	totals := make([]string, len(benchWebQueries))
	sp, lat, err := s.phase("search page /buscar", true, requests, func(i int) (string, func([]byte) error) {
		k := i % len(benchWebQueries)
		return "/buscar?" + benchWebQueries[k].Encode(), func(b []byte) error {
			mt := totalRE.FindSubmatch(b)
			if mt == nil {
				return errors.New("no result count in the page")
			}
			totals[k] = string(mt[1])
			return nil
		}
	})
	if err != nil {
		return err
	}
	rep.Pages = append(rep.Pages, sp)
	perQuery := make([][]float64, len(benchWebQueries))
	for i, d := range lat {
		perQuery[i%len(benchWebQueries)] = append(perQuery[i%len(benchWebQueries)], d)
	}
	for k, q := range benchWebQueries {
		bq := benchWebQuery{Query: benchWebQueryText(q), Total: totals[k]}
		if len(perQuery[k]) > 0 {
			bq.P50, _, _, bq.Max = percentiles(perQuery[k])
		}
		rep.Queries = append(rep.Queries, bq)
	}
	say("search page: p50 %.1f ms, p95 %.1f ms", sp.P50, sp.P95)
	return nil
}

// measureMessages measures the message page, random records; the HTML bodies
// and constancias of some of them afterwards. It returns the ids viewed.
func (s *benchWebServer) measureMessages(rep *benchWebReport, say func(string, ...any), rng *rand.Rand, ids []string, requests int) ([]string, error) {
	viewed := make([]string, requests)
	var withHTML []string
	mp, _, err := s.phase("message page /mensaje/{id}", true, requests, func(i int) (string, func([]byte) error) {
		id := ids[rng.IntN(len(ids))]
		viewed[i] = id
		return "/mensaje/" + id, func(b []byte) error {
			if !bytes.Contains(b, []byte(`id="asunto"`)) || !bytes.Contains(b, []byte(id)) {
				return errors.New("not the message page")
			}
			if bytes.Contains(b, []byte("/mensaje/"+id+"/cuerpo.html")) {
				withHTML = append(withHTML, id)
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	rep.Pages = append(rep.Pages, mp)
	say("message page: p50 %.1f ms, p95 %.1f ms", mp.P50, mp.P95)
	if len(withHTML) > 0 {
		bp, _, err := s.phase("HTML body /mensaje/{id}/cuerpo.html", false, len(withHTML), func(i int) (string, func([]byte) error) {
			return "/mensaje/" + withHTML[i] + "/cuerpo.html", func([]byte) error { return nil }
		})
		if err != nil {
			return nil, err
		}
		rep.Pages = append(rep.Pages, bp)
	}
	nc := max(1, requests/5)
	cp, _, err := s.phase("constancia JSON /mensaje/{id}/constancia/json", false, nc, func(i int) (string, func([]byte) error) {
		id := viewed[i]
		return "/mensaje/" + id + "/constancia/json", func(b []byte) error {
			if !json.Valid(b) || !bytes.Contains(b, []byte(id)) {
				return errors.New("not a constancia of the record")
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	rep.Pages = append(rep.Pages, cp)
	return viewed, nil
}

// benchWebQueryText shows a query as the form's fields: q's text first, then field=value.
func benchWebQueryText(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] == "q" || (keys[j] != "q" && keys[i] < keys[j]) })
	var parts []string
	for _, k := range keys {
		if k == "q" {
			parts = append(parts, v.Get(k))
		} else {
			parts = append(parts, k+"="+v.Get(k))
		}
	}
	return strings.Join(parts, " ")
}
