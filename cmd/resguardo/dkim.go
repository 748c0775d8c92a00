package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/fsutil"
	"github.com/resguardo/resguardo/internal/mailauth"
)

// dkimKey is one line of `resguardo dkim list --json` and the output of keygen --json.
type dkimKey struct {
	Domain     string `json:"domain"`
	Selector   string `json:"selector"`
	Algorithm  string `json:"algorithm"`
	File       string `json:"file"`
	RecordName string `json:"record_name"` // <selector>._domainkey.<domain>
	TXT        string `json:"txt"`         // the DNS TXT record text to publish
	Zone       string `json:"zone"`        // the same as a zone-file line
	SHA256     string `json:"public_key_sha256"`
}

var dkimLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// dkimKeyDir is where serve finds the signing keys: keys/dkim/<domain>/<selector>.key.
func dkimKeyDir(data string) string { return filepath.Join(archive.Layout{Dir: data}.Keys(), "dkim") }

func runDKIM(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "keygen":
		return runDKIMKeygen(m, rest)
	case "list":
		return runDKIMList(m, rest)
	}
	return &exitError{code: 2, err: errors.New("usage: resguardo dkim keygen DOMAIN [--selector S] [--alg rsa|ed25519] [--bits N] [--json] | dkim list [--json]")}
}

func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !dkimLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func runDKIMKeygen(m *Main, args []string) error {
	fs := flag.NewFlagSet("dkim keygen", flag.ContinueOnError)
	selector := fs.String("selector", "resguardo", "selector: the key is published at SELECTOR._domainkey.DOMAIN")
	alg := fs.String("alg", mailauth.KeyRSA, "rsa (every verifier accepts it) or ed25519 (RFC 8463; sign with both during a transition)")
	bits := fs.Int("bits", 2048, "RSA key size (at least 1024; 2048 recommended)")
	jsonOut := fs.Bool("json", false, "print as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: errors.New("usage: resguardo dkim keygen DOMAIN [--selector S] [--alg rsa|ed25519] [--bits N]")}
	}
	domain := strings.ToLower(strings.TrimSuffix(pos[0], "."))
	if !validDomain(domain) {
		return &exitError{code: 2, err: fmt.Errorf("dkim keygen: %q is not a domain name", pos[0])}
	}
	if !dkimLabel.MatchString(*selector) {
		return &exitError{code: 2, err: fmt.Errorf("dkim keygen: --selector %q: want letters, digits and '-'", *selector)}
	}
	if *alg != mailauth.KeyRSA && *alg != mailauth.KeyEd25519 {
		return &exitError{code: 2, err: fmt.Errorf("dkim keygen: --alg %q: want rsa or ed25519", *alg)}
	}
	if *alg == mailauth.KeyRSA && (*bits < 1024 || *bits > 8192) {
		return &exitError{code: 2, err: fmt.Errorf("dkim keygen: --bits %d: want 1024 to 8192", *bits)}
	}
	if _, err := os.Stat(archive.Layout{Dir: m.DataDir}.FormatFile()); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("dkim keygen: %s is not a data directory (run `resguardo init` first)", m.DataDir)}
	}
	k, err := mailauth.GenerateKey(*alg, *bits)
	if err != nil {
		return err
	}
	dir := filepath.Join(dkimKeyDir(m.DataDir), domain)
	if err := fsutil.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	file := filepath.Join(dir, *selector+".key")
	// Never replace a key: mail signed with it must stay verifiable while its
	// record is published. Rotate with a new selector.
	if err := fsutil.WriteOnce(file, k.PrivateKeyPEM, 0o600); err != nil {
		if errors.Is(err, fsutil.ErrExists) {
			return &exitError{code: 1, err: fmt.Errorf("dkim keygen: %s already exists: choose another --selector to rotate keys", file)}
		}
		return err
	}
	out, err := describeDKIMKey(file, domain, *selector)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(m, out)
	}
	fmt.Fprintln(m.Stdout, m.P.T("dkim.created", file))
	fmt.Fprintln(m.Stdout, m.P.T("dkim.publish", out.RecordName))
	fmt.Fprintln(m.Stdout, out.Zone)
	return nil
}

func describeDKIMKey(file, domain, selector string) (dkimKey, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return dkimKey{}, err
	}
	key, err := mailauth.ParsePrivateKeyPEM(b)
	if err != nil {
		return dkimKey{}, fmt.Errorf("%s: %w", file, err)
	}
	txt, err := mailauth.DNSRecord(key.Public())
	if err != nil {
		return dkimKey{}, fmt.Errorf("%s: %w", file, err)
	}
	alg := mailauth.KeyRSA
	if strings.Contains(txt, "k=ed25519") {
		alg = mailauth.KeyEd25519
	}
	sum := sha256.Sum256([]byte(txt))
	return dkimKey{Domain: domain, Selector: selector, Algorithm: alg, File: file,
		RecordName: mailauth.RecordName(domain, selector), TXT: txt,
		Zone: mailauth.ZoneFileRecord(domain, selector, txt), SHA256: hex.EncodeToString(sum[:])}, nil
}

func runDKIMList(m *Main, args []string) error {
	fs := flag.NewFlagSet("dkim list", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(dkimKeyDir(m.DataDir), "*", "*.key"))
	sort.Strings(files)
	list := []dkimKey{}
	for _, f := range files {
		k, err := describeDKIMKey(f, filepath.Base(filepath.Dir(f)), strings.TrimSuffix(filepath.Base(f), ".key"))
		if err != nil {
			return err
		}
		list = append(list, k)
	}
	if *jsonOut {
		return writeJSON(m, list)
	}
	for _, k := range list {
		fmt.Fprintf(m.Stdout, "%s  %s  %s\n", k.RecordName, k.Algorithm, k.File)
	}
	return nil
}
