// Command resguardo is the whole Resguardo platform in one binary: the archive,
// its command line, and (with `serve`) the service. See README.md and docs/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/config"
	"github.com/resguardo/resguardo/internal/i18n"
	"github.com/resguardo/resguardo/internal/message"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit status for main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// Main holds what every subcommand shares; tests run commands through it.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	DataDir    string
	ConfigPath string
	LangFlag   string
	CPUProfile string
	Config     config.Config
	P          i18n.Printer
	Logger     *slog.Logger
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "start the service (status page, /healthz; creates the data directory on first run)", runServe},
		{"init", "create the data directory and keys", runInit},
		{"import", "archive .eml files, directories, maildirs and mbox files", runImport},
		{"show", "print a record's metadata as JSON", runShow},
		{"cat", "write a record's bytes exactly as received", runCat},
		{"list", "list records, newest first", runList},
		{"search", "search the archive (query language: docs/SEARCH.md)", runSearch},
		{"reindex", "rebuild the search index from the archive", runReindex},
		{"status", "records, ledger, timestamps and search lag", runStatus},
		{"export", "export the messages a query finds: zip or mbox, constancias, signed manifest", runExport},
		{"fsck", "check blobs, catalog and ledger against each other", runFsck},
		{"ledger", "ledger status | prove ID | consistency OLD NEW", runLedger},
		{"constancia", "write a record's constancia (JSON + CMS signature) to --out DIR", runConstancia},
		{"verify", "check a message against its constancia, offline", runVerify},
		{"witness", "witness side: keygen NAME | cosign checkpoints after checking consistency", runWitness},
		{"config", "config check: validate the configuration file", runConfig},
		{"keys", "keys show: fingerprints of every key and certificate (never the keys)", runKeys},
		{"scan", "scan FILE|DIR…: every configured antivirus engine on each file (exit 1: found, 3: an engine failed)", runScan},
		{"engines", "the configured antivirus engines: up or down, version, latency", runEngines},
		{"quarantine", "quarantine list | show ID | release ID --reason TEXT | spam ID | ham ID: mail the gateway quarantined (archived and marked), why, releasing it, and teaching the antispam", runQuarantine},
		{"spam", "spam train --ham DIR --spam DIR | spam status: the built-in antispam classifier", runSpam},
		{"queue", "queue list | show ID | retry|hold|release ID…|--all: the gateway's outbound queue", runQueue},
		{"dkim", "dkim keygen DOMAIN: a DKIM signing key and the DNS record to publish | dkim list", runDKIM},
		{"bench", "bench import: measure import speed on the shared corpus", runBench},
		{"version", "print the version", func(_ context.Context, m *Main, _ []string) error {
			fmt.Fprintln(m.Stdout, "resguardo", version)
			return nil
		}},
	}
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := m.Run(ctx, os.Args[1:])
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(os.Stderr, "resguardo:", ee.err)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "resguardo:", err)
		os.Exit(1)
	}
}

func (m *Main) usage() {
	fmt.Fprintf(m.Stderr, "usage: resguardo [--data DIR] [--config FILE] [--lang es|en] <command> [flags] [args]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(m.Stderr, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(m.Stderr, "\nThe data directory is --data, else $RESGUARDO_DATA, else the config's data, else ./resguardo-data.\n")
}

// Run parses global flags and runs one command.
func (m *Main) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("resguardo", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = m.usage
	m.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	rest := fs.Args()
	if m.CPUProfile != "" {
		f, err := os.Create(m.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if len(rest) == 0 {
		m.usage()
		return &exitError{code: 2}
	}
	for _, c := range commands() {
		if c.name == rest[0] {
			return c.run(ctx, m, rest[1:])
		}
	}
	m.usage()
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q", rest[0])}
}

func (m *Main) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&m.DataDir, "data", m.DataDir, "data directory")
	fs.StringVar(&m.ConfigPath, "config", m.ConfigPath, "configuration file (TOML)")
	fs.StringVar(&m.LangFlag, "lang", m.LangFlag, "language of messages: es or en")
	fs.StringVar(&m.CPUProfile, "cpuprofile", m.CPUProfile, "write a CPU profile (pprof) of the command to this file")
}

// parse parses a subcommand's flags, accepting flags after positional arguments
// (`import dir/ --json`), and then loads the configuration.
func (m *Main) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(m.Stderr)
	m.globalFlags(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: 0}
			}
			return nil, &exitError{code: 2}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, m.setup()
}

// setup loads the configuration and resolves the data directory and language.
func (m *Main) setup() error {
	m.P = i18n.Printer{Lang: i18n.Detect(m.LangFlag, m.Getenv)}
	path := m.ConfigPath
	if path == "" {
		path = m.Getenv("RESGUARDO_CONFIG")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	m.Config = cfg
	m.ConfigPath = path
	switch {
	case m.DataDir != "":
	case m.Getenv("RESGUARDO_DATA") != "":
		m.DataDir = m.Getenv("RESGUARDO_DATA")
	default:
		m.DataDir = cfg.Data
	}
	if abs, err := filepath.Abs(m.DataDir); err == nil {
		m.DataDir = abs
	}
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		m.Logger = slog.New(slog.NewJSONHandler(m.Stderr, hopts))
	} else {
		m.Logger = slog.New(slog.NewTextHandler(m.Stderr, hopts))
	}
	return nil
}

// subcommand splits "ledger --data D status --json" into "status" and the other
// arguments: the first word that is neither a flag nor the value of a global flag.
func subcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a, append(append([]string{}, args[:i]...), args[i+1:]...)
		}
		switch strings.TrimLeft(a, "-") {
		case "data", "config", "lang", "cpuprofile":
			i++ // its value follows
		}
	}
	return "", args
}

// archiveOptions are the archive settings from the configuration.
func (m *Main) archiveOptions(writer bool, lockName string) (archive.Options, error) {
	mk, err := m.Config.MasterKey()
	if err != nil {
		return archive.Options{}, err
	}
	c := m.Config
	return archive.Options{
		Dir: m.DataDir, Writer: writer, LockName: lockName, MasterKeyB64: mk,
		ZstdLevel: c.Archive.ZstdLevel, PackSize: int64(c.Archive.PackSize), Logger: m.Logger,
		Limits: message.Limits{
			MaxHeaderBytes: int(c.Limits.MaxHeaderBytes), MaxHeaderFields: c.Limits.MaxHeaderFields,
			MaxDepth: c.Limits.MaxMIMEDepth, MaxParts: c.Limits.MaxParts,
		},
	}, nil
}

// openArchive opens the data directory; writers create it on first use.
func (m *Main) openArchive(ctx context.Context, writer bool, lockName string) (*archive.Archive, error) {
	if writer {
		if _, err := m.ensureInit(); err != nil {
			return nil, err
		}
	}
	o, err := m.archiveOptions(writer, lockName)
	if err != nil {
		return nil, err
	}
	a, err := archive.Open(ctx, o)
	if errors.Is(err, archive.ErrNotInitialized) {
		return nil, fmt.Errorf("%w (create it with `resguardo init --data %s` or `resguardo serve`)", err, m.DataDir)
	}
	return a, err
}

// ensureInit creates the data directory when it does not exist yet and says where
// everything is; it reports whether it created it.
func (m *Main) ensureInit() (bool, error) {
	f, created, err := archive.Init(m.DataDir, m.Config.Archive.Origin, nowUTC())
	if err != nil {
		return false, err
	}
	if created {
		m.printLayout(f, true)
	}
	return created, nil
}

func (m *Main) printLayout(f archive.Format, created bool) {
	lay := archive.Layout{Dir: m.DataDir}
	if created {
		fmt.Fprintln(m.Stderr, m.P.T("data.created", m.DataDir))
	} else {
		fmt.Fprintln(m.Stderr, m.P.T("data.using", m.DataDir))
	}
	fmt.Fprintln(m.Stderr, m.P.T("data.keys", lay.Keys()))
	fmt.Fprintln(m.Stderr, m.P.T("data.catalog", lay.Catalog()))
	fmt.Fprintln(m.Stderr, m.P.T("data.blobs", lay.Blobs()))
	fmt.Fprintln(m.Stderr, m.P.T("data.ledger", lay.Ledger(), f.Origin))
	if pub, err := os.ReadFile(filepath.Join(lay.Keys(), "ledger.pub")); err == nil {
		fmt.Fprintln(m.Stderr, m.P.T("data.pubkey", strings.TrimSpace(string(pub))))
	}
}

func runInit(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	f, created, err := archive.Init(m.DataDir, m.Config.Archive.Origin, nowUTC())
	if err != nil {
		return err
	}
	m.printLayout(f, created)
	return nil
}
