package ledger

import "testing"

func FuzzParseCheckpointBody(f *testing.F) {
	f.Add("resguardo.test/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCheckpointBody(s)
		if err == nil && c.Body() != s {
			t.Fatalf("round trip: %q → %q", s, c.Body())
		}
	})
}

func FuzzSplitBundle(f *testing.F) {
	f.Add(JoinBundle([][]byte{[]byte("a"), []byte("bc")}))
	f.Add([]byte{0, 5, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := SplitBundle(b)
		if err == nil && string(JoinBundle(es)) != string(b) {
			t.Fatal("round trip")
		}
	})
}

func FuzzParseRecordEntry(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"record","sha256":"ab","size":10,"channel":"import","time":"2026-11-28T12:00:00.500000000Z","meta_sha256":"cd"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseRecordEntry(b)
		if err == nil {
			c, _ := Canonical(e)
			if string(c) != string(b) {
				t.Fatal("accepted non-canonical entry")
			}
		}
	})
}
