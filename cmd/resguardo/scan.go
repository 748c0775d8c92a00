package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/scan"
)

// scanLine is one line of `resguardo scan --json` (JSON Lines, one per file).
type scanLine struct {
	Path    string        `json:"path"`
	Size    int64         `json:"size"`
	Verdict scan.Verdict  `json:"verdict"` // infected if any engine found something, else error if any failed, else clean
	Results []scan.Result `json:"results"`
}

// engineLine is one line of `resguardo engines --json`.
type engineLine struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Address   string  `json:"address"`
	Up        bool    `json:"up"`
	Version   string  `json:"version,omitempty"`
	Error     string  `json:"error,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// configuredScanner builds the antivirus engines of the configuration.
func (m *Main) configuredScanner() (*scan.Scanner, error) {
	g := m.Config.Gateway
	if len(g.Antivirus) == 0 {
		return nil, &exitError{code: 2, err: errors.New("no antivirus engines: configure [[gateway.antivirus]] (docs/GATEWAY.md)")}
	}
	return antivirusScanner(g), nil
}

// antivirusScanner builds the engines of a (validated) configuration.
func antivirusScanner(g config.Gateway) *scan.Scanner {
	s := &scan.Scanner{Timeout: g.AntivirusTimeout.D(), EngineMaxConcurrent: map[string]int{}}
	for _, e := range g.Antivirus {
		if e.MaxConcurrent > 0 {
			s.EngineMaxConcurrent[e.Name] = e.MaxConcurrent
		}
		switch e.Type {
		case "icap":
			s.Engines = append(s.Engines, &scan.ICAP{EngineName: e.Name, URL: e.Address, Mode: e.Mode})
		case "command":
			var re *regexp.Regexp
			if e.InfectedPattern != "" {
				re = regexp.MustCompile(e.InfectedPattern) // validated by config
			}
			s.Engines = append(s.Engines, &scan.Command{EngineName: e.Name, Argv: e.Command, CleanExit: e.CleanExit,
				InfectedExit: e.InfectedExit, InfectedPattern: re})
		default:
			network, address := e.Network()
			s.Engines = append(s.Engines, &scan.Clamd{EngineName: e.Name, Network: network, Address: address})
		}
	}
	return s
}

// runScan scans files with every configured engine: for administrators checking
// the engines, and files received outside mail. Exit status 1 when something was
// found, 3 when nothing was found but an engine failed.
func runScan(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "JSON Lines: one object per file")
	paths, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return &exitError{code: 2, err: errors.New("usage: resguardo scan FILE|DIR… [--json]")}
	}
	s, err := m.configuredScanner()
	if err != nil {
		return err
	}
	files, _, err := listInputFiles(paths)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	limit := int64(m.Config.Gateway.MaxMessageSize)
	enc := json.NewEncoder(m.Stdout)
	enc.SetEscapeHTML(false)
	infected, failed := 0, 0
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		if limit > 0 && fi.Size() > limit {
			fmt.Fprintf(m.Stderr, "%s: %d bytes, over gateway.max_message_size; not scanned\n", f, fi.Size())
			failed++
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		line := scanLine{Path: f, Size: int64(len(data)), Verdict: scan.Clean, Results: s.Scan(ctx, data)}
		for _, r := range line.Results {
			switch {
			case r.Verdict == scan.Infected:
				line.Verdict = scan.Infected
			case r.Verdict == scan.Error && line.Verdict == scan.Clean:
				line.Verdict = scan.Error
			}
		}
		switch line.Verdict {
		case scan.Infected:
			infected++
		case scan.Error:
			failed++
		}
		if *jsonOut {
			if err := enc.Encode(line); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(m.Stdout, "%s: %s\n", f, line.Verdict)
		for _, r := range line.Results {
			what := r.Threat
			if r.Verdict == scan.Error {
				what = r.Detail
			}
			fmt.Fprintf(m.Stdout, "  %-16s %-8s %-40s %7.1f ms  %s\n", r.Engine, r.Verdict, what, r.TookMS, r.Version)
		}
	}
	switch {
	case infected > 0:
		return &exitError{code: 1}
	case failed > 0:
		return &exitError{code: 3}
	}
	return nil
}

// runEngines lists the configured engines with their state, version and latency.
func runEngines(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("engines", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "JSON Lines: one object per engine")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	s, err := m.configuredScanner()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetEscapeHTML(false)
	down := 0
	for i, e := range s.Engines {
		line := probeEngine(ctx, e, m.Config.Gateway.Antivirus[i])
		if !line.Up {
			down++
		}
		if *jsonOut {
			if err := enc.Encode(line); err != nil {
				return err
			}
			continue
		}
		state := "up"
		if !line.Up {
			state = "DOWN: " + line.Error
		}
		fmt.Fprintf(m.Stdout, "%-16s %-6s %-40s %7.1f ms  %s %s\n", line.Name, line.Type, line.Address, line.LatencyMS, state, line.Version)
	}
	if down > 0 {
		return &exitError{code: 3}
	}
	return nil
}

// probeEngine asks one engine whether it is up (within 5 s): clamd and ICAP
// for their version, a command engine to scan a few harmless bytes.
func probeEngine(ctx context.Context, e scan.Engine, cfg config.GatewayEngine) engineLine {
	line := engineLine{Name: cfg.Name, Type: cfg.Type, Address: cfg.Address}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	var v string
	var err error
	switch e := e.(type) {
	case interface {
		Version(context.Context) (string, error)
	}: // clamd (VERSION), ICAP (OPTIONS)
		v, err = e.Version(vctx)
	default: // a command engine is up when it scans a few harmless bytes
		var r scan.Result
		if r, err = e.Scan(vctx, []byte("resguardo engines\n")); err == nil && r.Verdict != scan.Clean {
			err = fmt.Errorf("verdict %s on harmless data", r.Verdict)
		}
		v = strings.Join(cfg.Command, " ")
	}
	line.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		line.Error = err.Error()
	} else {
		line.Up, line.Version = true, v
	}
	return line
}
