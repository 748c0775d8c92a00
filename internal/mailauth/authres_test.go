package mailauth

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestAuthenticationResultsGolden(t *testing.T) {
	cases := map[string]Result{
		"all-pass": {
			SPF: SPFResult{Result: SPFPass, Identity: "mailfrom", Sender: "ana@example.org", Domain: "example.org"},
			DKIM: []DKIMResult{
				{Result: DKIMPass, Domain: "example.org", Selector: "sel1", Identifier: "@example.org", Algorithm: "rsa-sha256", HeaderB: "Ab12+d34"},
				{Result: DKIMPass, Domain: "esp.example", Selector: "ed", Algorithm: "ed25519-sha256", HeaderB: "ZZ9/xx00"},
			},
			DMARC: DMARCResult{Result: DMARCPass, FromDomain: "example.org", Policy: "reject", Percent: 100, Disposition: "none"},
		},
		"fail-quarantine": {
			SPF:   SPFResult{Result: SPFSoftFail, Identity: "mailfrom", Sender: "x@example.net", Domain: "example.net"},
			DKIM:  []DKIMResult{{Result: DKIMFail, Domain: "example.net", Selector: "s", Algorithm: "rsa-sha256", Error: "signature did not verify"}},
			DMARC: DMARCResult{Result: DMARCFail, FromDomain: "example.net", Policy: "reject", SubdomainPolicy: "quarantine", Percent: 50, Disposition: "quarantine"},
		},
		"null-sender-unsigned": {
			SPF:   SPFResult{Result: SPFNone, Identity: "helo", Sender: "postmaster@mail.example.com", Domain: "mail.example.com"},
			DMARC: DMARCResult{Result: DMARCPermError, Error: "no RFC5322.From address", Disposition: "none"},
		},
		"hostile-envelope": {
			SPF:   SPFResult{Result: SPFTempError, Identity: "mailfrom", Sender: "\"a b\"@x.example\r\nX-Injected: yes"},
			DKIM:  []DKIMResult{{Result: DKIMPermError, Error: "malformed signature tags: \"quoted\"\nline"}},
			DMARC: DMARCResult{Result: DMARCTempError, FromDomain: "x.example", Error: "dns timeout", Disposition: "none"},
		},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got := "Authentication-Results: " + AuthenticationResults("mx.dependencia.gob.mx", r) + "\r\n"
			path := filepath.Join("testdata", "authres-"+name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}

			// go-msgauth's parser reads it back: same identifier and methods.
			v := strings.TrimSuffix(strings.TrimPrefix(got, "Authentication-Results: "), "\r\n")
			id, results, err := authres.Parse(strings.ReplaceAll(v, "\r\n\t", " "))
			if err != nil {
				t.Fatalf("authres.Parse: %v", err)
			}
			if id != "mx.dependencia.gob.mx" {
				t.Errorf("identifier %q", id)
			}
			wantN := 2 + max(len(r.DKIM), 1)
			if len(results) != wantN {
				t.Errorf("parsed %d results, want %d: %#v", len(results), wantN, results)
			}
		})
	}
}
