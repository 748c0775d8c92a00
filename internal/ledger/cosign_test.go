package ledger

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func TestCosignRoundTrip(t *testing.T) {
	t.Parallel()
	s, v := newKeys(t, "resguardo.test/cosign")
	cp, err := SignCheckpoint(Checkpoint{Origin: "resguardo.test/cosign", Size: 7, Root: tlog.RecordHash([]byte("r"))}, s)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := GenerateWitnessKey("oic.ejemplo.gob.mx/testigo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	w, err := NewCosigner(skey, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	wv, err := NewCosignVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := Cosign(cp, v, w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(cosigned, cp) {
		t.Fatal("cosigning changed the log's part of the note")
	}
	lines := SignatureLines(cosigned, cp)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "— oic.ejemplo.gob.mx/testigo ") {
		t.Fatalf("lines %q", lines)
	}
	got, err := CheckWitnesses(WithSignatures(cp, lines), v, []*CosignVerifier{wv})
	if err != nil || !got["oic.ejemplo.gob.mx/testigo"].Equal(at) {
		t.Fatalf("witnesses %v %v", got, err)
	}
	// Another witness's key does not count; a tampered line is an error.
	_, other, _ := GenerateWitnessKey("otro/testigo")
	ov, _ := NewCosignVerifier(other)
	if got, _ := CheckWitnesses(WithSignatures(cp, lines), v, []*CosignVerifier{ov}); len(got) != 0 {
		t.Fatalf("foreign witness counted: %v", got)
	}
	bad := []string{lines[0][:len(lines[0])-6] + "AAAAA="}
	if got, err := CheckWitnesses(WithSignatures(cp, bad), v, []*CosignVerifier{wv}); err == nil && len(got) != 0 {
		t.Fatal("tampered cosignature counted")
	}
	for _, k := range []string{"", "x+y", vkey + "x", strings.Replace(vkey, "oic", "oxc", 1)} {
		if _, err := NewCosignVerifier(k); err == nil {
			t.Errorf("NewCosignVerifier(%q) accepted", k)
		}
	}
}
