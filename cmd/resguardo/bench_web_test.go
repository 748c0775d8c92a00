package main

import (
	"encoding/json"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// TestBenchWeb runs `bench web` on 200 real messages with a few requests and no
// wrk, so that the command keeps working: import, the bench account with TOTP,
// serve, the browser's login, and every page it measures.
func TestBenchWeb(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve over 200 imported messages")
	}
	corpus := corpustest.Dir(t)
	t.Setenv("RESGUARDO_TEST_MAIN", "1") // the bench runs this binary as resguardo (TestMain)
	out, errOut, code := cli(t, "bench", "web", "--corpus", corpus, "--messages", "200", "--requests", "25", "--wrk-duration", "0", "--json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	var rep benchWebReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Records != 200 || !rep.Imported || rep.WrkSkipped == "" {
		t.Errorf("records %d, imported %v, wrk skipped %q", rep.Records, rep.Imported, rep.WrkSkipped)
	}
	names := map[string]bool{}
	for _, p := range rep.Pages {
		names[p.Name] = true
		if p.Requests == 0 || p.P50 <= 0 || p.P50 > p.P95 || p.P95 > p.Max || p.Bytes == 0 {
			t.Errorf("%s: %+v", p.Name, p)
		}
	}
	for _, n := range []string{"search page /buscar", "message page /mensaje/{id}", "constancia JSON /mensaje/{id}/constancia/json"} {
		if !names[n] {
			t.Errorf("%s not measured: %+v", n, rep.Pages)
		}
	}
	if len(rep.Queries) != len(benchWebQueries) || rep.Queries[0].Total == "" {
		t.Errorf("queries: %+v", rep.Queries)
	}
}

func TestParseWrk(t *testing.T) {
	const out = `Running 10s test @ http://127.0.0.1:40000/mensaje/ab
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.10ms    3.20ms  80.00ms   90.00%
    Req/Sec   330.12     40.00   400.00     70.00%
  Latency Distribution
     50%  950.00us
     75%   14.20ms
     90%   18.00ms
     99%    1.20s
  6602 requests in 10.01s, 30.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    659.54
Transfer/sec:      3.00MB
`
	w, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := benchWrk{Requests: 6602, Seconds: 10.01, Rate: 659.54, P50: 0.95, P75: 14.2, P90: 18, P99: 1200, Bad: 7}
	if w != want {
		t.Errorf("got %+v\nwant %+v", w, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused"); err == nil {
		t.Error("an error report was parsed")
	}
}
