package constancia

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() *Constancia {
	return Build(Inputs{
		IssuerName: "Secretaría de Pruebas", Instance: "abc", SHA256: strings.Repeat("ab", 32), Size: 10,
		Metadata:   []byte(`{"v":1,"subject":"Acta <sesión> & anexos","from":[{"name":"Lic. Ana","address":"ana@ejemplo.gob.mx"}],"attachments":[{"filename":"acta.pdf","content_type":"application/pdf","size":3,"sha256":"cd"}]}`),
		MetaSHA256: strings.Repeat("cd", 32), Origin: "x/y", PublicKey: "x/y+00000000+AA", Index: 3,
		Entry: []byte(`{"v":1}`), Checkpoint: []byte("x/y\n4\nAAAA\n\n— x/y sig\n"), Kind: "rfc3161",
		Token: []byte{0x30, 0x00}, StampDigest: strings.Repeat("0", 64), StampTime: time.Date(2026, 3, 5, 16, 0, 0, 0, time.UTC),
		Authority: "CN=TSA", Now: time.Date(2026, 3, 5, 16, 0, 1, 0, time.UTC), VerifyURL: "https://ejemplo.gob.mx/verificar",
	})
}

func TestMarshalParse(t *testing.T) {
	t.Parallel()
	c := sample()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `\u003c`) {
		t.Fatal("HTML-escaped output")
	}
	got, err := Parse(b)
	if err != nil || got.Record.Metadata != c.Record.Metadata || got.Ledger.Proof != c.Ledger.Proof || string(got.Timestamp.Token) != string(c.Timestamp.Token) {
		t.Fatalf("round trip: %v", err)
	}
	if !strings.Contains(got.StatementES, "entrada 3") || !strings.Contains(got.StatementES, "2026-03-05 10:00:00 CST") || strings.Contains(strings.ToLower(got.StatementES), "prueba plena") {
		t.Fatalf("statement: %s", got.StatementES)
	}
	for _, bad := range []string{``, `{}`, `{"format":"resguardo-constancia/2"}`, `{"format":"resguardo-constancia/1"}`, `[1]`} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
}

func TestPDF(t *testing.T) {
	t.Parallel()
	b, err := PDF(sample(), nil)
	if err != nil || !strings.HasPrefix(string(b), "%PDF-") || len(b) < 2000 {
		t.Fatalf("pdf: %d bytes, %v", len(b), err)
	}
	c := sample()
	c.Record.Metadata = "not json"
	if _, err := PDF(c, nil); err == nil {
		t.Fatal("PDF of broken metadata succeeded")
	}
}

func FuzzVerify(f *testing.F) {
	b, _ := sample().Marshal()
	f.Add([]byte("From: a\r\n\r\nx"), b)
	f.Add([]byte{}, []byte(`{"format":"resguardo-constancia/1"}`))
	f.Fuzz(func(t *testing.T, msg, doc []byte) {
		r := Verify(msg, doc, Options{})
		if r.OK {
			t.Fatal("random input verified")
		}
		if r.Failed() == "" {
			t.Fatal("failed report names no step")
		}
	})
}
