// Package config reads Resguardo's one configuration file (TOML, optional: the
// defaults run a complete embedded instance) and validates it into typed values.
// Secrets never live in the file itself: they are given as a path (*_file) or through
// the environment. Every problem is reported with the line it is on.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration.
type Config struct {
	Data     string   `toml:"data"`
	Server   Server   `toml:"server"`
	Log      Log      `toml:"log"`
	Archive  Archive  `toml:"archive"`
	Keys     Keys     `toml:"keys"`
	Limits   Limits   `toml:"limits"`
	Import   Import   `toml:"import"`
	Evidence Evidence `toml:"evidence"`
	Gateway  Gateway  `toml:"gateway"`
	Identity Identity `toml:"identity"`
	Search   Search   `toml:"search"`
}

// Search tunes serve's indexing.
type Search struct {
	// MaxLag: while the gateway is receiving mail, serve postpones indexing
	// until the oldest unindexed record has waited this long (then indexes
	// everything pending in one go); 0 indexes at every tick.
	MaxLag Duration `toml:"max_lag"`
}

// Server is the HTTP listener of `resguardo serve`.
type Server struct {
	Listen string `toml:"listen"` // host:port; loopback by default
	// HTTPS: a certificate and key (PEM) for the web server. Without them,
	// serve speaks plain HTTP on a loopback address only; on any other
	// address it uses the generated certificate of keys/gateway/ (or plain
	// HTTP with InsecureHTTP, behind a proxy that terminates TLS).
	TLSCertFile  string `toml:"tls_cert_file"`
	TLSKeyFile   string `toml:"tls_key_file"`
	InsecureHTTP bool   `toml:"insecure_http"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text, json
}

// Archive tunes the record writer.
type Archive struct {
	Origin             string   `toml:"origin"` // ledger origin, used when the data directory is created
	ZstdLevel          int      `toml:"zstd_level"`
	PackSize           Size     `toml:"pack_size"`
	BatchSize          int      `toml:"batch_size"`
	BatchDelay         Duration `toml:"batch_delay"`
	CheckpointInterval Duration `toml:"checkpoint_interval"`
}

// Keys says where secrets come from.
type Keys struct {
	MasterKeyFile string `toml:"master_key_file"` // base64 master key kept off the data disk
}

// Limits bound parsing.
type Limits struct {
	MaxMessageSize  Size `toml:"max_message_size"`
	MaxHeaderBytes  Size `toml:"max_header_bytes"`
	MaxHeaderFields int  `toml:"max_header_fields"`
	MaxMIMEDepth    int  `toml:"max_mime_depth"`
	MaxParts        int  `toml:"max_parts"`
}

// Import sets defaults of `resguardo import`.
type Import struct {
	MboxFormat string   `toml:"mbox_format"` // auto, mboxrd, mboxo, mboxcl2
	BatchDelay Duration `toml:"batch_delay"` // imports favour big batches over latency
}

// Evidence configures timestamps and constancias.
type Evidence struct {
	Issuer           string   `toml:"issuer"`            // institution name on constancias and certificates
	TSA              string   `toml:"tsa"`               // "builtin" or "url"
	TSAURL           string   `toml:"tsa_url"`           // RFC 3161 endpoint of an external TSA
	TSACAFile        string   `toml:"tsa_ca_file"`       // PEM trust anchor(s) of the external TSA
	TSAPolicy        string   `toml:"tsa_policy"`        // policy OID the external TSA must use
	TSAUsername      string   `toml:"tsa_username"`      // HTTP basic auth, if the provider wants it
	TSAPasswordFile  string   `toml:"tsa_password_file"` // the password, from a file
	Interval         Duration `toml:"interval"`          // serve: timestamp the latest checkpoint at most this often
	EveryEntries     int      `toml:"every_entries"`     // import: also timestamp every this many new records (0: only at the end)
	VerifyURL        string   `toml:"verify_url"`        // public verification page printed on constancias
	PublishDirs      []string `toml:"publish_dirs"`      // copy every timestamped checkpoint here (outside the institution's control)
	PublishURLs      []string `toml:"publish_urls"`      // and POST it here (a witness, another institution)
	PublishEmails    []string `toml:"publish_emails"`    // and mail it to these addresses, through:
	SMTPServer       string   `toml:"smtp_server"`       // smarthost host:port (STARTTLS required)
	SMTPFrom         string   `toml:"smtp_from"`         //
	SMTPUsername     string   `toml:"smtp_username"`     //
	SMTPPasswordFile string   `toml:"smtp_password_file"`
	PSC              PSC      `toml:"psc"`
	// An existing certification key instead of the one generated in keys/cert/.
	CertFile           string `toml:"cert_file"`            // PEM signer certificate
	KeyFile            string `toml:"key_file"`             // PEM PKCS#8 key (0600)
	CAFile             string `toml:"ca_file"`              // PEM CA that verifiers pin
	PKCS12File         string `toml:"pkcs12_file"`          // or a PKCS#12 bundle
	PKCS12PasswordFile string `toml:"pkcs12_password_file"` //
}

// PSC configures NOM-151-SCFI-2016 anchoring with an accredited provider.
type PSC struct {
	URL             string   `toml:"url"`               // empty: no PSC
	Protocol        string   `toml:"protocol"`          // rfc3161 or rest
	CAFile          string   `toml:"ca_file"`           // the PSC's certificate(s), PEM, pinned
	Interval        Duration `toml:"interval"`          // serve: anchor the latest checkpoint this often
	Username        string   `toml:"username"`          // HTTP basic auth
	PasswordFile    string   `toml:"password_file"`     //
	BearerTokenFile string   `toml:"bearer_token_file"` // or a bearer token
	RESTBody        string   `toml:"rest_body"`         // template over {{.Hex}} / {{.Base64}}
	RESTContentType string   `toml:"rest_content_type"`
	RESTResponse    string   `toml:"rest_response"` // der, base64 or json:FIELD
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{
		Data:   "./resguardo-data",
		Server: Server{Listen: "127.0.0.1:8025"},
		Log:    Log{Level: "info", Format: "text"},
		Archive: Archive{ZstdLevel: 1, PackSize: 512 << 20, BatchSize: 2000,
			BatchDelay: Duration(5 * time.Millisecond), CheckpointInterval: Duration(10 * time.Second)},
		Limits: Limits{MaxMessageSize: 256 << 20, MaxHeaderBytes: 1 << 20, MaxHeaderFields: 5000, MaxMIMEDepth: 32, MaxParts: 5000},
		Import: Import{MboxFormat: "auto", BatchDelay: Duration(250 * time.Millisecond)},
		Evidence: Evidence{Issuer: "Institución (configure evidence.issuer)", TSA: "builtin",
			Interval: Duration(5 * time.Second), EveryEntries: 10000, VerifyURL: "http://127.0.0.1:8025/verificar",
			PSC: PSC{Protocol: "rfc3161", Interval: Duration(time.Hour), RESTResponse: "json:constancia"}},
		Gateway:  defaultGateway(),
		Identity: DefaultIdentity(),
		Search:   Search{MaxLag: Duration(time.Minute)},
	}
}

// Problem is one configuration error.
type Problem struct {
	Line int    // 0 when not tied to a line
	Key  string // dotted key
	Msg  string
}

// Error lists every problem in a file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case p.Line > 0 && p.Key != "":
			fmt.Fprintf(&b, "%s:%d: %s: %s", e.File, p.Line, p.Key, p.Msg)
		case p.Line > 0:
			fmt.Fprintf(&b, "%s:%d: %s", e.File, p.Line, p.Msg)
		default:
			fmt.Fprintf(&b, "%s: %s", e.File, p.Msg)
		}
	}
	return b.String()
}

// Load reads path; an empty path yields the defaults.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse decodes and validates a configuration; name labels problems.
func Parse(name string, r io.Reader) (Config, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return Config{}, err
	}
	c := Default()
	md, err := toml.Decode(string(src), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if st := pe.Position.Start; st > 0 && st <= len(src) {
				// Count from the byte offset: an error at a newline belongs to the line it ends.
				line = strings.Count(string(src[:st]), "\n") + 1
			}
			return c, &Error{File: name, Problems: []Problem{{Line: line, Msg: pe.Message}}}
		}
		return c, &Error{File: name, Problems: []Problem{{Msg: cleanTOMLError(err)}}}
	}
	loc := newLocator(string(src))
	var probs []Problem
	for _, k := range md.Undecoded() {
		probs = append(probs, Problem{Line: loc.line(k.String()), Key: k.String(), Msg: "unknown setting"})
	}
	for _, p := range c.validate() {
		p.Line = loc.line(p.Key)
		probs = append(probs, p)
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return c, &Error{File: name, Problems: probs}
	}
	return c, nil
}

func cleanTOMLError(err error) string {
	return strings.TrimPrefix(err.Error(), "toml: ")
}

func (c *Config) validate() []Problem {
	var ps []Problem
	bad := func(key, format string, a ...any) { ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, a...)}) }
	if strings.TrimSpace(c.Data) == "" {
		bad("data", "must name a directory")
	}
	if _, err := netip.ParseAddrPort(c.Server.Listen); err != nil {
		if host, port, ok := strings.Cut(c.Server.Listen, ":"); !ok || host == "" || !isPort(port) {
			bad("server.listen", "want host:port, e.g. \"127.0.0.1:8025\", got %q", c.Server.Listen)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "want text or json, got %q", c.Log.Format)
	}
	if c.Archive.Origin != "" && !regexp.MustCompile(`^[!-*,-~]+$`).MatchString(c.Archive.Origin) {
		bad("archive.origin", "must be printable ASCII without spaces or '+', e.g. \"correo.ejemplo.gob.mx/resguardo\"")
	}
	if c.Archive.ZstdLevel < 1 || c.Archive.ZstdLevel > 4 {
		bad("archive.zstd_level", "want 1 (fastest) to 4 (smallest), got %d", c.Archive.ZstdLevel)
	}
	if c.Archive.PackSize < 1<<20 || c.Archive.PackSize > 64<<30 {
		bad("archive.pack_size", "want between 1MiB and 64GiB")
	}
	if c.Archive.BatchSize < 1 || c.Archive.BatchSize > 100000 {
		bad("archive.batch_size", "want 1 to 100000, got %d", c.Archive.BatchSize)
	}
	if c.Archive.BatchDelay <= 0 || time.Duration(c.Archive.BatchDelay) > 10*time.Second {
		bad("archive.batch_delay", "want a duration above 0 and at most 10s")
	}
	if time.Duration(c.Archive.CheckpointInterval) < time.Second {
		bad("archive.checkpoint_interval", "want at least 1s")
	}
	if c.Keys.MasterKeyFile != "" {
		if st, err := os.Stat(c.Keys.MasterKeyFile); err != nil {
			bad("keys.master_key_file", "%v", err)
		} else if st.Mode().Perm()&0o077 != 0 {
			bad("keys.master_key_file", "%s is readable by group or others (mode %o): chmod 600 it", c.Keys.MasterKeyFile, st.Mode().Perm())
		}
	}
	if c.Limits.MaxMessageSize < 1<<10 || c.Limits.MaxMessageSize > 4<<30 {
		bad("limits.max_message_size", "want between 1KiB and 4GiB")
	}
	if c.Limits.MaxHeaderBytes < 1<<10 || c.Limits.MaxHeaderBytes > 64<<20 {
		bad("limits.max_header_bytes", "want between 1KiB and 64MiB")
	}
	if c.Limits.MaxHeaderFields < 10 {
		bad("limits.max_header_fields", "want at least 10")
	}
	if c.Limits.MaxMIMEDepth < 1 || c.Limits.MaxMIMEDepth > 1000 {
		bad("limits.max_mime_depth", "want 1 to 1000")
	}
	if c.Limits.MaxParts < 1 {
		bad("limits.max_parts", "want at least 1")
	}
	if c.Import.BatchDelay <= 0 || time.Duration(c.Import.BatchDelay) > 10*time.Second {
		bad("import.batch_delay", "want a duration above 0 and at most 10s")
	}
	switch c.Import.MboxFormat {
	case "auto", "mboxrd", "mboxo", "mboxcl2":
	default:
		bad("import.mbox_format", "want auto, mboxrd, mboxo or mboxcl2, got %q", c.Import.MboxFormat)
	}
	if strings.TrimSpace(c.Evidence.Issuer) == "" {
		bad("evidence.issuer", "must name the institution")
	}
	switch c.Evidence.TSA {
	case "builtin":
	case "url":
		if !strings.HasPrefix(c.Evidence.TSAURL, "https://") && !strings.HasPrefix(c.Evidence.TSAURL, "http://") {
			bad("evidence.tsa_url", "want the http(s) URL of an RFC 3161 timestamp authority")
		}
		if c.Evidence.TSACAFile == "" {
			bad("evidence.tsa_ca_file", "an external TSA needs its trust anchor (PEM)")
		} else if _, err := os.Stat(c.Evidence.TSACAFile); err != nil {
			bad("evidence.tsa_ca_file", "%v", err)
		}
	default:
		bad("evidence.tsa", "want builtin or url, got %q", c.Evidence.TSA)
	}
	if c.Evidence.TSAPolicy != "" && !regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`).MatchString(c.Evidence.TSAPolicy) {
		bad("evidence.tsa_policy", "want an OID such as 2.16.484.101.10.316.2.1")
	}
	if len(c.Evidence.PublishEmails) > 0 {
		if _, _, err := net.SplitHostPort(c.Evidence.SMTPServer); err != nil {
			bad("evidence.smtp_server", "want host:port of the smarthost, got %q", c.Evidence.SMTPServer)
		}
		if !strings.Contains(c.Evidence.SMTPFrom, "@") {
			bad("evidence.smtp_from", "want the sender address")
		}
		for _, a := range c.Evidence.PublishEmails {
			if !strings.Contains(a, "@") {
				bad("evidence.publish_emails", "%q is not an address", a)
			}
		}
	}
	for _, u := range c.Evidence.PublishURLs {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			bad("evidence.publish_urls", "want http(s) URLs, got %q", u)
		}
	}
	if ev := c.Evidence; ev.CertFile != "" || ev.KeyFile != "" || ev.PKCS12File != "" {
		if ev.PKCS12File == "" && (ev.CertFile == "" || ev.KeyFile == "") {
			bad("evidence.cert_file", "cert_file and key_file go together (or give pkcs12_file)")
		}
		if ev.CAFile == "" && ev.PKCS12File == "" {
			bad("evidence.ca_file", "the CA certificate verifiers will pin is required")
		}
		for _, f := range []struct{ key, path string }{{"evidence.cert_file", ev.CertFile}, {"evidence.key_file", ev.KeyFile},
			{"evidence.ca_file", ev.CAFile}, {"evidence.pkcs12_file", ev.PKCS12File}} {
			if f.path != "" {
				if _, err := os.Stat(f.path); err != nil {
					bad(f.key, "%v", err)
				}
			}
		}
	}
	if psc := c.Evidence.PSC; psc.URL != "" {
		if !strings.HasPrefix(psc.URL, "https://") && !strings.HasPrefix(psc.URL, "http://") {
			bad("evidence.psc.url", "want the http(s) URL of the PSC")
		}
		if psc.Protocol != "rfc3161" && psc.Protocol != "rest" {
			bad("evidence.psc.protocol", "want rfc3161 or rest, got %q", psc.Protocol)
		}
		if psc.CAFile == "" {
			bad("evidence.psc.ca_file", "the PSC's certificate(s) must be pinned (PEM)")
		} else if _, err := os.Stat(psc.CAFile); err != nil {
			bad("evidence.psc.ca_file", "%v", err)
		}
		if time.Duration(psc.Interval) < time.Minute {
			bad("evidence.psc.interval", "want at least 1m")
		}
		if r := psc.RESTResponse; r != "der" && r != "base64" && !strings.HasPrefix(r, "json:") {
			bad("evidence.psc.rest_response", "want der, base64 or json:FIELD, got %q", r)
		}
	}
	if c.Evidence.EveryEntries < 0 {
		bad("evidence.every_entries", "want 0 (only at the end of an import) or more")
	}
	if time.Duration(c.Evidence.Interval) < time.Second {
		bad("evidence.interval", "want at least 1s")
	}
	if d := time.Duration(c.Search.MaxLag); d < 0 || d > 24*time.Hour {
		bad("search.max_lag", "want 0 (index at every tick) up to 24h, got %s", d)
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		bad("server.tls_cert_file", "tls_cert_file and tls_key_file go together")
	}
	for _, f := range []struct{ key, path string }{{"server.tls_cert_file", c.Server.TLSCertFile}, {"server.tls_key_file", c.Server.TLSKeyFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.key, "%v", err)
			}
		}
	}
	if c.Server.InsecureHTTP && c.Server.TLSCertFile != "" {
		bad("server.insecure_http", "contradicts server.tls_cert_file: choose HTTPS or plain HTTP")
	}
	c.Gateway.validate(bad)
	c.Identity.validate(bad)
	if o := &c.Identity.OIDC; o.Enabled() && o.RedirectURL == "" {
		if host, _, _ := strings.Cut(c.Server.Listen, ":"); host == "" || host == "0.0.0.0" || strings.HasPrefix(c.Server.Listen, "[::]") {
			bad("identity.oidc.redirect_url", "required when server.listen (%q) names no host: the URL people's browsers reach, ending in /entrar/oidc/callback", c.Server.Listen)
		}
	}
	return ps
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n < 65536
}

// MasterKey returns the master key given outside the data directory: the file named
// by keys.master_key_file, else $RESGUARDO_MASTER_KEY, else "".
func (c *Config) MasterKey() (string, error) {
	if c.Keys.MasterKeyFile != "" {
		b, err := os.ReadFile(c.Keys.MasterKeyFile)
		if err != nil {
			return "", fmt.Errorf("keys.master_key_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return os.Getenv("RESGUARDO_MASTER_KEY"), nil
}
