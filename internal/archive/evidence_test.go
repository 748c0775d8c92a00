package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/notary"
)

// TestConstanciasVerifyAndTamper archives messages across several timestamped
// checkpoints, issues a constancia for a sample, verifies each offline, and checks
// that altering any part makes verification fail at the step that names it.
func TestConstanciasVerifyAndTamper(t *testing.T) {
	t.Parallel()
	dir, a := newArchive(t)
	defer a.Close()
	ctx := context.Background()
	if err := InitEvidence(dir, "Secretaría de Pruebas", time.Now()); err != nil {
		t.Fatal(err)
	}
	auth, err := notary.LoadAuthority(Layout{dir}.TSADir(), notary.AuthorityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for i := 0; i < 700; i++ {
		msgs = append(msgs, oficio(i))
	}
	// Three imports, each followed by a stamp: records belong to different checkpoints.
	for _, part := range [][][]byte{msgs[:1], msgs[1:300], msgs[300:]} {
		ingestAll(t, a, part)
		if _, err := a.Stamp(ctx, auth); err != nil {
			t.Fatal(err)
		}
	}
	var stamps []int64
	a.Cat.Checkpoints(ctx, func(cp *catalog.Checkpoint) error { stamps = append(stamps, cp.Size); return nil })
	if len(stamps) != 3 || stamps[0] != 1 || stamps[2] != 700 {
		t.Fatalf("stamped checkpoints %v", stamps)
	}
	caPEM := []string{pemCert(auth.CACert().Raw)}
	opt := constancia.Options{LogKey: a.Keys.LedgerPublicKey(), TSARoots: []*x509.Certificate{auth.CACert()}}
	for i := 0; i < len(msgs); i += 37 {
		sum := sha256.Sum256(msgs[i])
		r, err := a.Cat.Lookup(ctx, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatal(err)
		}
		in, err := a.ConstanciaInputs(ctx, r, "Secretaría de Pruebas", caPEM)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := constancia.Build(in).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		rep := constancia.Verify(msgs[i], doc, opt)
		if !rep.OK || len(rep.Warnings) != 0 {
			t.Fatalf("message %d: %+v", i, rep)
		}
		if want := coveringSize(stamps, r.LedgerIndex); rep.TreeSize != want {
			t.Fatalf("message %d proven against tree %d, want the first stamped tree covering it (%d)", i, rep.TreeSize, want)
		}
		if i%3 == 0 {
			checkTampering(t, msgs[i], doc, opt)
		}
	}
	// Signed with the institution's key, verified against its CA.
	cert, err := keys.LoadCertification(Layout{dir}.Keys())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(msgs[5])
	r, _ := a.Cat.Lookup(ctx, hex.EncodeToString(sum[:]))
	in, _ := a.ConstanciaInputs(ctx, r, "Secretaría de Pruebas", caPEM)
	doc, _ := constancia.Build(in).Marshal()
	p7s, err := constancia.Sign(doc, cert.Cert, cert.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := opt
	o.P7S, o.CARoots = p7s, []*x509.Certificate{cert.CA}
	if rep := constancia.Verify(msgs[5], doc, o); !rep.OK || len(rep.Signers) != 1 {
		t.Fatalf("with p7s: %+v", rep)
	}
	o.CARoots = []*x509.Certificate{auth.CACert()} // a CA that did not issue the signer
	if rep := constancia.Verify(msgs[5], doc, o); rep.Failed() != constancia.StepSignature {
		t.Fatalf("foreign CA: failed at %q", rep.Failed())
	}
	o.CARoots = []*x509.Certificate{cert.CA}
	if rep := constancia.Verify(msgs[5], append(bytes.Clone(doc), ' '), o); rep.Failed() != constancia.StepSignature {
		t.Fatalf("document changed after signing: failed at %q", rep.Failed())
	}
}

func coveringSize(stamps []int64, idx int64) int64 {
	for _, s := range stamps {
		if s > idx {
			return s
		}
	}
	return -1
}

// checkTampering alters each part of a constancia and expects the named step to fail.
func checkTampering(t *testing.T, msg, doc []byte, opt constancia.Options) {
	t.Helper()
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	sub := func(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
	flipB64 := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)/2] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	var withPath bool
	other := constancia.Options{LogKey: "otro/log+01234567+AUREogIrlVAlf3cBguKd+UkzqssPTO4Jw5mB7FSpS4NG", TSARoots: opt.TSARoots}
	cases := []struct {
		name string
		msg  []byte
		doc  []byte
		opt  constancia.Options
		step string
	}{
		{"message byte", append([]byte{msg[0] ^ 1}, msg[1:]...), doc, opt, constancia.StepMessage},
		{"message truncated", msg[:len(msg)-1], doc, opt, constancia.StepMessage},
		{"metadata", msg, edit(func(m map[string]any) {
			r := sub(m, "record")
			r["metadata"] = strings.Replace(r["metadata"].(string), "Oficio", "Otro oficio", 1)
		}), opt, constancia.StepMetadata},
		{"entry", msg, edit(func(m map[string]any) {
			l := sub(m, "ledger")
			l["entry"] = strings.Replace(l["entry"].(string), `"channel":"import"`, `"channel":"mx"`, 1)
		}), opt, constancia.StepInclusion},
		{"proof path", msg, edit(func(m map[string]any) {
			l := sub(m, "ledger")
			lines := strings.Split(l["proof"].(string), "\n")
			if len(lines) > 2 && len(lines[2]) == 44 {
				lines[2] = flipB64(lines[2])
				withPath = true
			}
			l["proof"] = strings.Join(lines, "\n")
		}), opt, constancia.StepInclusion},
		{"checkpoint", msg, edit(func(m map[string]any) {
			l := sub(m, "ledger")
			p := l["proof"].(string)
			i := strings.Index(p, "\n\n") + 2
			j := i + strings.Index(p[i:], "\n") + 1 // the size line follows the origin
			l["proof"] = p[:j] + "9" + p[j:]
		}), opt, constancia.StepCheckpoint},
		{"token", msg, edit(func(m map[string]any) {
			ts := sub(m, "timestamp")
			ts["token"] = flipB64(ts["token"].(string))
		}), opt, constancia.StepTimestamp},
		{"timestamp of another checkpoint", msg, edit(func(m map[string]any) {
			sub(m, "timestamp")["digest_sha256"] = strings.Repeat("0", 64)
		}), opt, constancia.StepTimestamp},
		{"declaration", msg, edit(func(m map[string]any) {
			m["declaracion"] = strings.Replace(m["declaracion"].(string), "forma parte", "no forma parte", 1)
		}), opt, constancia.StepStatement},
		{"statement", msg, edit(func(m map[string]any) {
			m["statement"] = strings.Replace(m["statement"].(string), "is part", "is not part", 1)
		}), opt, constancia.StepStatement},
		{"issuer named in the declaration only", msg, edit(func(m map[string]any) {
			m["declaracion"] = strings.Replace(m["declaracion"].(string), sub(m, "issuer")["name"].(string), "Otra Institución", 1)
		}), opt, constancia.StepStatement},
		{"timestamp time", msg, edit(func(m map[string]any) {
			sub(m, "timestamp")["time"] = "2020-01-01T00:00:00Z"
		}), opt, constancia.StepStatement},
		{"unpinned foreign log key", msg, doc, other, constancia.StepCheckpoint},
		{"untrusted timestamp authority", msg, doc, constancia.Options{LogKey: opt.LogKey, TSARoots: []*x509.Certificate{otherCA(t)}}, constancia.StepTimestamp},
		{"not a constancia", msg, []byte(`{"format":"otra"}`), opt, constancia.StepDocument},
	}
	for _, tc := range cases {
		if tc.name == "proof path" && !withPath {
			continue // the first entry of a one-entry tree has no path to alter
		}
		rep := constancia.Verify(tc.msg, tc.doc, tc.opt)
		if rep.OK || rep.Failed() != tc.step {
			t.Errorf("%s: failed at %q, want %q (%+v)", tc.name, rep.Failed(), tc.step, rep.Steps)
		}
	}
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// otherCA is the CA of an unrelated timestamp authority.
func otherCA(t *testing.T) *x509.Certificate {
	t.Helper()
	dir := t.TempDir() + "/tsa"
	if err := notary.CreateAuthority(dir, notary.AuthorityOptions{Name: "Otra TSA"}); err != nil {
		t.Fatal(err)
	}
	a, err := notary.LoadAuthority(dir, notary.AuthorityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a.CACert()
}
