package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/corpustest"
	"github.com/resguardo/resguardo/internal/efirma/efirmatest"
	"github.com/resguardo/resguardo/internal/notary"
)

func needOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		corpustest.Require(t, "openssl is not installed")
	}
}

// TestConstanciaEndToEnd imports the Spanish fixtures, issues constancias, verifies
// them with our CLI and with OpenSSL (CMS signature and RFC 3161 token), and shows
// that a changed message fails at the message step.
func TestConstanciaEndToEnd(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	id := idOf(t, filepath.Join("testdata", "es", "oficio-licitacion.eml"))
	out := t.TempDir()
	mustCLI(t, "constancia", "--data", data, "--out", out, id[:10])
	doc := filepath.Join(out, "constancia.json")
	p7s := filepath.Join(out, "constancia.p7s")
	for _, f := range []string{doc, p7s, filepath.Join(out, "constancia.pdf")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	pdf, _ := os.ReadFile(filepath.Join(out, "constancia.pdf"))
	if !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatal("constancia.pdf is not a PDF")
	}
	keys := filepath.Join(data, "keys")
	pub := filepath.Join(keys, "ledger.pub")
	tsaCA := filepath.Join(keys, "tsa", "ca.pem")
	ca := filepath.Join(keys, "cert", "ca.pem")
	msg := filepath.Join("testdata", "es", "oficio-licitacion.eml")

	res := mustCLI(t, "verify", msg, doc, "--p7s", p7s, "--log-key", pub, "--tsa-ca", tsaCA, "--ca", ca, "--lang", "es")
	if strings.Count(res, "✓") != 9 || strings.Contains(res, "✗") || strings.Contains(res, "aviso") || !strings.Contains(res, "VERIFICADA") {
		t.Fatalf("verify:\n%s", res)
	}
	// Independent checks with OpenSSL.
	if b, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s,
		"-content", doc, "-CAfile", ca, "-out", os.DevNull).CombinedOutput(); err != nil || !strings.Contains(string(b), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, b)
	}
	var c struct {
		Timestamp struct {
			Digest string `json:"digest_sha256"`
			Token  string `json:"token"`
		} `json:"timestamp"`
	}
	raw, _ := os.ReadFile(doc)
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	tok, _ := base64.StdEncoding.DecodeString(c.Timestamp.Token)
	tokFile := filepath.Join(out, "sello.tst")
	os.WriteFile(tokFile, tok, 0o644)
	if b, err := exec.Command("openssl", "ts", "-verify", "-digest", c.Timestamp.Digest, "-in", tokFile, "-token_in",
		"-CAfile", tsaCA).CombinedOutput(); err != nil || !strings.Contains(string(b), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, b)
	}
	// A message that differs by one byte fails, naming the step.
	bad := filepath.Join(out, "alterado.eml")
	b, _ := os.ReadFile(msg)
	b[len(b)/2] ^= 0x20
	os.WriteFile(bad, b, 0o644)
	res, errOut, code := cli(t, "verify", bad, doc, "--log-key", pub, "--tsa-ca", tsaCA)
	if code != 1 || !strings.Contains(errOut, `"message"`) || !strings.Contains(res, "✗") {
		t.Fatalf("altered message: exit %d\n%s\n%s", code, res, errOut)
	}
	// The constancia signature fails when the JSON is edited after signing.
	edited := strings.Replace(string(raw), "Licitaci", "Licitazi", 1)
	os.WriteFile(filepath.Join(out, "editada.json"), []byte(edited), 0o644)
	_, errOut, code = cli(t, "verify", msg, filepath.Join(out, "editada.json"), "--p7s", p7s, "--log-key", pub, "--tsa-ca", tsaCA, "--ca", ca)
	if code != 1 {
		t.Fatalf("edited constancia: exit %d %s", code, errOut)
	}
}

// TestConstanciaPendingAndConsistency: a record whose checkpoint is not stamped is
// pending; ledger consistency proves growth between two sizes.
func TestLedgerConsistencyCLI(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	mustCLI(t, "import", "--data", data, "testdata/es/oficio-licitacion.eml")
	mustCLI(t, "import", "--data", data, "testdata/es")
	out := mustCLI(t, "ledger", "consistency", "--data", data, "1", "5", "--json")
	var c ledgerConsistency
	if err := json.Unmarshal([]byte(out), &c); err != nil || !c.Verified || c.OldSize != 1 || c.NewSize != 5 {
		t.Fatalf("%v %s", err, out)
	}
	if _, _, code := cli(t, "ledger", "consistency", "--data", data, "5", "1"); code != 2 {
		t.Fatalf("backwards consistency: exit %d", code)
	}
}

// TestLedgerAuditCatchesRewrite publishes timestamped checkpoints to a directory
// while importing, audits them, then rewrites the ledger's history in a copy of the
// data directory (one entry changed, the log rebuilt and re-signed with the same key)
// and shows that the audit against the published checkpoints catches it.
func TestLedgerAuditCatchesRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := filepath.Join(dir, "publicados")
	cfg := filepath.Join(dir, "resguardo.toml")
	os.WriteFile(cfg, []byte("[evidence]\npublish_dirs = [\""+pub+"\"]\n"), 0o644)
	data := filepath.Join(dir, "data")
	for _, f := range []string{"oficio-licitacion.eml", "respuesta-solicitud.eml", "mensaje-danado.eml", "transferencias.mbox"} {
		mustCLI(t, "import", "--data", data, "--config", cfg, filepath.Join("testdata", "es", f))
	}
	published, _ := filepath.Glob(filepath.Join(pub, "*.checkpoint"))
	tokens, _ := filepath.Glob(filepath.Join(pub, "*.tst"))
	if len(published) != 4 || len(tokens) != 4 {
		t.Fatalf("published %v %v", published, tokens)
	}
	if out := mustCLI(t, "ledger", "audit", "--data", data, pub, "--lang", "en"); !strings.Contains(out, "4 published checkpoints, 4 timestamped; ledger of 5 entries: 0 problems") {
		t.Fatalf("audit: %s", out)
	}
	// ledger publish re-sends everything, idempotently.
	mustCLI(t, "ledger", "publish", "--data", data, "--config", cfg)

	forged := copyDir(t, data)
	execSQL(t, forged, `UPDATE ledger_entries SET data = replace(data, '"channel":"import"', '"channel":"mx"') WHERE idx = 1`)
	os.RemoveAll(filepath.Join(forged, "ledger"))
	os.MkdirAll(filepath.Join(forged, "ledger"), 0o700)
	mustCLI(t, "import", "--data", forged, filepath.Join("testdata", "es", "oficio-licitacion.eml")) // a writer rebuilds the log
	out, _, code := cli(t, "ledger", "audit", "--data", forged, pub, "--json")
	var rep auditReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("audit of a rewritten ledger: exit %d %v\n%s", code, err, out)
	}
	kinds := map[string]int{}
	for _, f := range rep.Findings {
		kinds[f.Kind]++
	}
	if kinds["rewritten"] != 3 { // every published tree that contains entry 1
		t.Fatalf("findings %+v", rep.Findings)
	}
	// A checkpoint file altered after publication fails its signature.
	b, _ := os.ReadFile(published[0])
	b[len(b)-10] ^= 1
	os.WriteFile(published[0], b, 0o644)
	if _, _, code := cli(t, "ledger", "audit", "--data", data, pub); code != 1 {
		t.Fatalf("altered published checkpoint: exit %d", code)
	}
}

// TestEfirmaCosign: an official co-signs a constancia with an e.firma in the SAT
// formats (key encrypted by OpenSSL); our verify names them and OpenSSL accepts both
// signatures.
func TestEfirmaCosign(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	dir := t.TempDir()
	f, err := efirmatest.Make(dir, "des3")
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(f.Password+"\n"), 0o600)
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	msg := filepath.Join("testdata", "es", "oficio-licitacion.eml")
	out := filepath.Join(dir, "c")
	mustCLI(t, "constancia", "--data", data, "--out", out, idOf(t, msg), "--cosign-cer", f.Cer, "--cosign-key", f.Key, "--cosign-password-file", pw)
	keys := filepath.Join(data, "keys")
	res := mustCLI(t, "verify", msg, filepath.Join(out, "constancia.json"), "--p7s", filepath.Join(out, "constancia.p7s"),
		"--log-key", filepath.Join(keys, "ledger.pub"), "--tsa-ca", filepath.Join(keys, "tsa", "ca.pem"),
		"--ca", filepath.Join(keys, "cert", "ca.pem")+","+f.CACert, "--lang", "es")
	if !strings.Contains(res, "firmada por "+f.Name+" (RFC "+f.RFC+", CURP "+f.CURP+")") || !strings.Contains(res, "VERIFICADA") {
		t.Fatalf("verify:\n%s", res)
	}
	// OpenSSL checks both signers against both CAs.
	cas := filepath.Join(dir, "cas.pem")
	a, _ := os.ReadFile(filepath.Join(keys, "cert", "ca.pem"))
	b, _ := os.ReadFile(f.CACert)
	os.WriteFile(cas, append(a, b...), 0o644)
	if o, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", filepath.Join(out, "constancia.p7s"),
		"-content", filepath.Join(out, "constancia.json"), "-CAfile", cas, "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, o)
	}
	// Without the SAT's CA the co-signature is not trusted.
	if _, _, code := cli(t, "verify", msg, filepath.Join(out, "constancia.json"), "--p7s", filepath.Join(out, "constancia.p7s"),
		"--ca", filepath.Join(keys, "cert", "ca.pem")); code != 1 {
		t.Fatalf("untrusted co-signer: exit %d", code)
	}
	// A wrong password is refused clearly.
	os.WriteFile(pw, []byte("otra"), 0o600)
	_, errOut, code := cli(t, "constancia", "--data", data, "--out", out, idOf(t, msg), "--cosign-cer", f.Cer, "--cosign-key", f.Key, "--cosign-password-file", pw)
	if code != 1 || !strings.Contains(errOut, "wrong password") {
		t.Fatalf("wrong password: exit %d %s", code, errOut)
	}
}

// TestPSCAnchor anchors the ledger with a stand-in PSC speaking a REST shape, issues
// a constancia carrying the NOM-151 anchor and a per-message NOM-151 object, and
// verifies both (ours and OpenSSL).
func TestPSCAnchor(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	dir := t.TempDir()
	pscDir := filepath.Join(dir, "psc")
	if err := notary.CreateAuthority(pscDir, notary.AuthorityOptions{Name: "PSC de pruebas (NOM-151)"}); err != nil {
		t.Fatal(err)
	}
	psc, err := notary.LoadAuthority(pscDir, notary.AuthorityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Resumen string }
		if r.Header.Get("Authorization") != "Bearer secreto" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		d, _ := hex.DecodeString(req.Resumen)
		st, err := psc.Timestamp(r.Context(), d)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"asn1": base64.StdEncoding.EncodeToString(st.Token)})
	}))
	defer srv.Close()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("secreto\n"), 0o600)
	cfg := filepath.Join(dir, "resguardo.toml")
	os.WriteFile(cfg, []byte(`[evidence.psc]
url = "`+srv.URL+`"
protocol = "rest"
ca_file = "`+filepath.Join(pscDir, "ca.pem")+`"
bearer_token_file = "`+tok+`"
rest_body = '{"resumen":"{{.Hex}}"}'
rest_response = "json:asn1"
`), 0o644)
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "--config", cfg, "testdata/es")
	if out := mustCLI(t, "ledger", "anchor", "--data", data, "--config", cfg); !strings.Contains(out, "anchored") {
		t.Fatalf("anchor: %s", out)
	}
	msg := filepath.Join("testdata", "es", "mensaje-danado.eml")
	out := filepath.Join(dir, "c")
	mustCLI(t, "constancia", "--data", data, "--config", cfg, "--out", out, "--psc", idOf(t, msg))
	keys := filepath.Join(data, "keys")
	res := mustCLI(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", filepath.Join(keys, "ledger.pub"),
		"--tsa-ca", filepath.Join(keys, "tsa", "ca.pem"), "--psc-ca", filepath.Join(pscDir, "ca.pem"), "--lang", "es")
	if !strings.Contains(res, "✓ Constancia NOM-151") || strings.Contains(res, "✗") {
		t.Fatalf("verify with anchor:\n%s", res)
	}
	// The anchor's PSC must be pinned: another CA fails the anchor step.
	_, errOut, code := cli(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", filepath.Join(keys, "ledger.pub"),
		"--tsa-ca", filepath.Join(keys, "tsa", "ca.pem"), "--psc-ca", filepath.Join(keys, "tsa", "ca.pem"))
	if code != 1 || !strings.Contains(errOut, `"anchor"`) {
		t.Fatalf("foreign PSC: exit %d %s", code, errOut)
	}
	// The per-message NOM-151 object, checked by OpenSSL over the message's own hash.
	own := filepath.Join(out, "constancia-nom151.asn1")
	if o, err := exec.Command("openssl", "ts", "-verify", "-digest", idOf(t, msg), "-in", own, "-token_in",
		"-CAfile", filepath.Join(pscDir, "ca.pem")).CombinedOutput(); err != nil || !strings.Contains(string(o), "Verification: OK") {
		t.Fatalf("openssl ts -verify of the NOM-151 object: %v\n%s", err, o)
	}
}

// TestWitnessCosignatures: a witness (e.g. the órgano interno de control) cosigns
// published checkpoints after checking consistency from the log's tiles; the
// institution stores the cosignatures, constancias carry them and verify requires
// them; a rewritten history is refused by the witness.
func TestWitnessCosignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := filepath.Join(dir, "publicados")
	cfg := filepath.Join(dir, "resguardo.toml")
	os.WriteFile(cfg, []byte("[evidence]\npublish_dirs = [\""+pub+"\"]\n"), 0o644)
	data := filepath.Join(dir, "data")
	wkey := filepath.Join(dir, "testigo.key")
	vkey := strings.TrimSpace(mustCLI(t, "witness", "keygen", "oic.finanzas.ejemplo.gob.mx/testigo", "--out", wkey))
	logKey := filepath.Join(data, "keys", "ledger.pub")
	state := filepath.Join(dir, "estado-testigo")
	cosign := func(data string, file string) (string, int) {
		out, errOut, code := cli(t, "witness", "cosign", "--key", wkey, "--log-key", filepath.Join(data, "keys", "ledger.pub"),
			"--tiles", filepath.Join(data, "ledger"), "--state", state, file)
		return out + errOut, code
	}
	mustCLI(t, "import", "--data", data, "--config", cfg, "testdata/es/oficio-licitacion.eml")
	mustCLI(t, "import", "--data", data, "--config", cfg, "testdata/es/respuesta-solicitud.eml")
	for _, size := range []string{"1", "2"} {
		if out, code := cosign(data, filepath.Join(pub, size+".checkpoint")); code != 0 {
			t.Fatalf("cosign %s: %s", size, out)
		}
	}
	mustCLI(t, "ledger", "cosignatures", "add", "--data", data, filepath.Join(pub, "1.cosigned"), filepath.Join(pub, "2.cosigned"))
	msg := filepath.Join("testdata", "es", "oficio-licitacion.eml")
	out := filepath.Join(dir, "c")
	mustCLI(t, "constancia", "--data", data, "--out", out, idOf(t, msg))
	res := mustCLI(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", logKey,
		"--tsa-ca", filepath.Join(data, "keys", "tsa", "ca.pem"), "--witness", vkey, "--lang", "es")
	if !strings.Contains(res, "✓ Testigos independientes") || !strings.Contains(res, "1 of 1 required witnesses cosigned: oic.finanzas.ejemplo.gob.mx/testigo") {
		t.Fatalf("verify with witness:\n%s", res)
	}
	// A witness whose cosignature the constancia lacks fails the step.
	_, other := filepath.Split(filepath.Join(dir, "otro.key"))
	ov := strings.TrimSpace(mustCLI(t, "witness", "keygen", "otro.testigo/x", "--out", filepath.Join(dir, other)))
	if _, errOut, code := cli(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", logKey,
		"--tsa-ca", filepath.Join(data, "keys", "tsa", "ca.pem"), "--witness", vkey+","+ov); code != 1 || !strings.Contains(errOut, `"witnesses"`) {
		t.Fatalf("missing witness: exit %d %s", code, errOut)
	}
	// A rewritten history signed with the same log key: the witness refuses it.
	forged := copyDir(t, data)
	execSQL(t, forged, `UPDATE ledger_entries SET data = replace(data, '"channel":"import"', '"channel":"mx"') WHERE idx = 1`)
	os.RemoveAll(filepath.Join(forged, "ledger"))
	os.MkdirAll(filepath.Join(forged, "ledger"), 0o700)
	mustCLI(t, "import", "--data", forged, filepath.Join("testdata", "es", "mensaje-danado.eml"))
	fcp := filepath.Join(dir, "forjado.checkpoint")
	b, _ := os.ReadFile(filepath.Join(forged, "ledger", "checkpoint"))
	os.WriteFile(fcp, b, 0o644)
	if out, code := cosign(forged, fcp); code != 1 || !strings.Contains(out, "not consistent") {
		t.Fatalf("forged history: exit %d %s", code, out)
	}
	// The genuine next checkpoint is accepted.
	mustCLI(t, "import", "--data", data, "--config", cfg, "testdata/es/mensaje-danado.eml")
	if out, code := cosign(data, filepath.Join(pub, "3.checkpoint")); code != 0 {
		t.Fatalf("genuine growth: %s", out)
	}
	// The constancia (tree of 1) verifies against the later published checkpoint.
	proof := filepath.Join(dir, "consistencia.json")
	os.WriteFile(proof, []byte(mustCLI(t, "ledger", "consistency", "--data", data, "1", "3", "--json")), 0o644)
	res = mustCLI(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", logKey,
		"--tsa-ca", filepath.Join(data, "keys", "tsa", "ca.pem"), "--newer", filepath.Join(pub, "3.checkpoint"), "--consistency", proof, "--lang", "en")
	if !strings.Contains(res, "✓ Later checkpoint consistent") {
		t.Fatalf("newer checkpoint:\n%s", res)
	}
	if _, errOut, code := cli(t, "verify", msg, filepath.Join(out, "constancia.json"), "--log-key", logKey,
		"--tsa-ca", filepath.Join(data, "keys", "tsa", "ca.pem"), "--newer", fcp, "--consistency", proof); code != 1 || !strings.Contains(errOut, "newer-checkpoint") {
		t.Fatalf("forged newer checkpoint: exit %d %s", code, errOut)
	}
}

// TestHandVerificationScript runs docs/examples/verificar_constancia.py — an
// independent verifier in a few lines of Python — on a constancia, as an outsider
// would, then checks the token it extracts with OpenSSL.
func TestHandVerificationScript(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		corpustest.Require(t, "python3 is not installed")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "testdata/es")
	msg, _ := filepath.Abs(filepath.Join("testdata", "es", "respuesta-solicitud.eml"))
	mustCLI(t, "constancia", "--data", data, "--out", dir, idOf(t, msg))
	script, _ := filepath.Abs(filepath.Join("..", "..", "docs", "examples", "verificar_constancia.py"))
	cmd := exec.Command(py, script, msg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "inclusion OK") {
		t.Fatalf("python verifier: %v\n%s", err, out)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "constancia.json"))
	var c struct {
		Timestamp struct {
			Digest string `json:"digest_sha256"`
		} `json:"timestamp"`
	}
	json.Unmarshal(raw, &c)
	if out, err := exec.Command("openssl", "ts", "-verify", "-digest", c.Timestamp.Digest, "-in", filepath.Join(dir, "sello.tst"), "-token_in",
		"-CAfile", filepath.Join(data, "keys", "tsa", "ca.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	// The script fails on an altered message.
	bad := filepath.Join(dir, "malo.eml")
	b, _ := os.ReadFile(msg)
	os.WriteFile(bad, append(b, ' '), 0o644)
	cmd = exec.Command(py, script, bad)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "message") {
		t.Fatalf("python verifier accepted an altered message:\n%s", out)
	}
}

// TestExistingCertificationKey: an institution signs constancias with a key it
// already has, as PEM files or a PKCS#12 bundle made by OpenSSL.
func TestExistingCertificationKey(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	dir := t.TempDir()
	other := filepath.Join(dir, "otra")
	mustCLI(t, "init", "--data", other)
	mustCLI(t, "keys", "show", "--data", other) // creates keys/cert
	cdir := filepath.Join(other, "keys", "cert")
	p12 := filepath.Join(dir, "institucion.p12")
	if out, err := exec.Command("openssl", "pkcs12", "-export", "-inkey", filepath.Join(cdir, "signer.key"), "-in", filepath.Join(cdir, "signer.pem"),
		"-certfile", filepath.Join(cdir, "ca.pem"), "-out", p12, "-passout", "pass:secreto").CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v %s", err, out)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secreto\n"), 0o600)
	for name, cfgText := range map[string]string{
		"pem":    "[evidence]\ncert_file = \"" + filepath.Join(cdir, "signer.pem") + "\"\nkey_file = \"" + filepath.Join(cdir, "signer.key") + "\"\nca_file = \"" + filepath.Join(cdir, "ca.pem") + "\"\n",
		"pkcs12": "[evidence]\npkcs12_file = \"" + p12 + "\"\npkcs12_password_file = \"" + pw + "\"\nca_file = \"" + filepath.Join(cdir, "ca.pem") + "\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(dir, name+".toml")
			os.WriteFile(cfg, []byte(cfgText), 0o644)
			data := filepath.Join(dir, "data-"+name)
			mustCLI(t, "import", "--data", data, "--config", cfg, "testdata/es/oficio-licitacion.eml")
			out := filepath.Join(dir, "c-"+name)
			msg := filepath.Join("testdata", "es", "oficio-licitacion.eml")
			mustCLI(t, "constancia", "--data", data, "--config", cfg, "--out", out, idOf(t, msg))
			res := mustCLI(t, "verify", msg, filepath.Join(out, "constancia.json"), "--p7s", filepath.Join(out, "constancia.p7s"),
				"--ca", filepath.Join(cdir, "ca.pem"), "--tsa-ca", filepath.Join(data, "keys", "tsa", "ca.pem"),
				"--log-key", filepath.Join(data, "keys", "ledger.pub"))
			if !strings.Contains(res, "VERIFICADA") && !strings.Contains(res, "VERIFIED") {
				t.Fatalf("verify:\n%s", res)
			}
		})
	}
}

// TestStampEveryEntries: a long import stamps as it goes, not only at its end.
func TestStampEveryEntries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "resguardo.toml")
	os.WriteFile(cfg, []byte("[evidence]\nevery_entries = 100\n[import]\nbatch_delay = \"2ms\"\n[archive]\nbatch_size = 50\n"), 0o644)
	data := filepath.Join(dir, "data")
	mustCLI(t, "import", "--data", data, "--config", cfg, corpustest.Path(t, "real", "linux-mips", "sample"))
	a, err := archive.Open(context.Background(), archive.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n := 0
	a.Cat.Checkpoints(context.Background(), func(*catalog.Checkpoint) error { n++; return nil })
	if n < 3 {
		t.Fatalf("%d stamped checkpoints for 1,002 records stamped every 100", n)
	}
}
