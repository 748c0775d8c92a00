package main

import (
	"fmt"
	"io"
)

// benchWebPrint writes the report for people.
func benchWebPrint(w io.Writer, rep benchWebReport, data string) {
	if rep.Imported {
		fmt.Fprintf(w, "archive:  %d records of real mail (import + index %.1f s)\n", rep.Records, rep.ImportSeconds)
	} else {
		fmt.Fprintf(w, "archive:  %d records (%s)\n", rep.Records, data)
	}
	fmt.Fprintf(w, "load:     %s (/proc/loadavg at the start of the measurement; %d CPUs)\n", rep.Load, rep.CPUs)
	fmt.Fprintf(w, "one client, sequential (server time + loopback), ms:\n")
	fmt.Fprintf(w, "  %-48s %5s %8s %8s %8s %8s %9s %8s %7s\n", "page", "n", "p50", "p95", "p99", "max", "CPU/req", "bytes", "others")
	for _, p := range rep.Pages {
		fmt.Fprintf(w, "  %-48s %5d %8.1f %8.1f %8.1f %8.1f %9.2f %8d %7.2f\n", p.Name, p.Requests, p.P50, p.P95, p.P99, p.Max, p.CPUPerReq, p.Bytes, p.OtherCores)
	}
	fmt.Fprintf(w, "  (CPU/req: serve's user + system CPU per request; others: cores used meanwhile by other processes)\n")
	for _, p := range rep.Pages {
		if p.Target {
			verdict := "met"
			if p.P95 >= rep.TargetP95MS {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "target p95 < %.0f ms, %s: %s (%.1f ms)\n", rep.TargetP95MS, p.Name, verdict, p.P95)
		}
	}
	fmt.Fprintf(w, "search page per query (p50 / max ms, results):\n")
	for _, q := range rep.Queries {
		fmt.Fprintf(w, "  %-40s %7.1f %7.1f  %s\n", q.Query, q.P50, q.Max, q.Total)
	}
	if rep.WrkSkipped != "" {
		fmt.Fprintf(w, "wrk: skipped (%s)\n", rep.WrkSkipped)
	}
	for _, x := range rep.Wrk {
		fmt.Fprintf(w, "wrk -t%d -c%d, %.1f s: %-42s %7.0f req/s  p50 %6.2f  p90 %6.2f  p99 %6.2f ms  cores: serve %.2f, wrk %.2f, others %.2f\n", x.Threads, x.Connections,
			x.Seconds, x.Name, x.Rate, x.P50, x.P90, x.P99, x.ServerCores, x.WrkCores, x.OtherCores)
	}
	fmt.Fprintf(w, "note: %s\n", rep.Note)
}
