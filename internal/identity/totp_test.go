package identity

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// RFC 4226 Appendix D: HOTP values for the ASCII secret "12345678901234567890".
func TestHOTPVectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(key, uint64(i), 6); got != w {
			t.Errorf("HOTP(%d) = %s, want %s", i, got, w)
		}
	}
}

// RFC 6238 Appendix B, SHA-1 column (8 digits), plus the 6-digit codes the
// service uses (the last six digits, since 10^6 divides 10^8).
func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		step string
		want string
	}{
		{59, "0000000000000001", "94287082"},
		{1111111109, "00000000023523EC", "07081804"},
		{1111111111, "00000000023523ED", "14050471"},
		{1234567890, "000000000273EF07", "89005924"},
		{2000000000, "0000000003F940AA", "69279037"},
		{20000000000, "0000000027BC86AA", "65353130"},
	} {
		at := time.Unix(tc.unix, 0)
		step := totpStep(at)
		b, _ := hex.DecodeString(tc.step)
		var wantStep int64
		for _, c := range b {
			wantStep = wantStep<<8 | int64(c)
		}
		if step != wantStep {
			t.Errorf("T(%d) = %x, want %s", tc.unix, step, tc.step)
		}
		if got := hotp(key, uint64(step), 8); got != tc.want {
			t.Errorf("TOTP8(%d) = %s, want %s", tc.unix, got, tc.want)
		}
		if got := TOTPCode(key, at); got != tc.want[2:] {
			t.Errorf("TOTP6(%d) = %s, want %s", tc.unix, got, tc.want[2:])
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := totpStep(now)
	for _, tc := range []struct {
		name  string
		at    time.Time
		ok    bool
		delta int64
	}{
		{"current", now, true, 0},
		{"previous step", now.Add(-30 * time.Second), true, -1},
		{"next step", now.Add(30 * time.Second), true, 1},
		{"two steps ago", now.Add(-60 * time.Second), false, 0},
		{"two steps ahead", now.Add(60 * time.Second), false, 0},
	} {
		step, ok := matchTOTP(key, TOTPCode(key, tc.at), now)
		if ok != tc.ok || (ok && step != cur+tc.delta) {
			t.Errorf("%s: step %d ok %v, want ok %v step %d", tc.name, step, ok, tc.ok, cur+tc.delta)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := matchTOTP(key, bad, now); ok {
			t.Errorf("%q matched", bad)
		}
	}
}

func TestOTPAuthURL(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	k := OTPKey{Issuer: "Resguardo (Secretaría de Ejemplo)", Account: "juan.perez", Secret: secret}
	u := k.URL()
	want := "otpauth://totp/Resguardo%20%28Secretar%C3%ADa%20de%20Ejemplo%29:juan.perez?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" +
		"&issuer=Resguardo%20%28Secretar%C3%ADa%20de%20Ejemplo%29&algorithm=SHA1&digits=6&period=30"
	if u != want {
		t.Fatalf("URL\n got %s\nwant %s", u, want)
	}
	got, err := ParseOTPAuthURL(u)
	if err != nil {
		t.Fatal(err)
	}
	if got.Issuer != k.Issuer || got.Account != k.Account || !bytes.Equal(got.Secret, secret) || got.Digits != 6 || got.Period != 30 {
		t.Fatalf("parsed %+v", got)
	}
	// A colon in the issuer would break the label: it is replaced.
	if u := (OTPKey{Issuer: "a:b", Account: "x", Secret: secret}).URL(); !strings.HasPrefix(u, "otpauth://totp/a-b:x?") {
		t.Errorf("colon: %s", u)
	}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&issuer=Ej", true},
		{"otpauth://totp/ana?secret=gezdgnbvgy3tqojq", true},
		{"otpauth://totp/Ej:%20ana?secret=GEZDGNBVGY3TQOJQ====&digits=8&period=60", true},
		{"otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&issuer=Otro", false}, // issuer mismatch
		{"otpauth://hotp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&counter=1", false},   // HOTP
		{"otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&algorithm=SHA256", false},
		{"otpauth://totp/Ej:ana?secret=GEZDG", false}, // too short
		{"otpauth://totp/Ej:ana?secret=not*base32", false},
		{"otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&digits=7", false},
		{"otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&period=5", false},
		{"otpauth://totp/Ej:a:b?secret=GEZDGNBVGY3TQOJQ", false}, // colon in account
		{"otpauth://totp/?secret=GEZDGNBVGY3TQOJQ", false},       // no account
		{"otpauth://totp/Ej:ana%00?secret=GEZDGNBVGY3TQOJQ", false},
		{"https://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ", false},
		{"otpauth:totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ", false},
	} {
		_, err := ParseOTPAuthURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

// FuzzOTPAuthURL: the parser never panics, and whatever it accepts survives a
// round trip through URL unchanged.
func FuzzOTPAuthURL(f *testing.F) {
	f.Add("otpauth://totp/Resguardo:juan.perez?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Resguardo&algorithm=SHA1&digits=6&period=30")
	f.Add("otpauth://totp/ana?secret=gezdgnbvgy3tqojq&digits=8")
	f.Add("otpauth://totp/Ej%20Uno:%20ana%2Fb?secret=GEZDGNBVGY3TQOJQ&issuer=Ej%20Uno")
	f.Add("otpauth://totp/Ej:ana?secret=GEZDGNBVGY3TQOJQ&issuer=Otro")
	f.Add("otpauth://totp/%C3%B1:%E2%80%8B?secret=GEZDGNBVGY3TQOJQ&period=120")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseOTPAuthURL(s)
		if err != nil {
			return
		}
		again, err := ParseOTPAuthURL(k.URL())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose URL %q does not parse: %v", s, k, k.URL(), err)
		}
		if again.Issuer != k.Issuer || again.Account != k.Account || !bytes.Equal(again.Secret, k.Secret) ||
			again.Digits != k.Digits || again.Period != k.Period {
			t.Fatalf("round trip of %q: %+v became %+v", s, k, again)
		}
	})
}

func TestSealer(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.seal([]byte("secreto"), 5)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.open(b, 5); err != nil || string(p) != "secreto" {
		t.Fatalf("open: %q %v", p, err)
	}
	if _, err := s.open(b, 6); err == nil {
		t.Error("a sealed secret opened for another user")
	}
	other, _ := newSealer(DeriveSecretKey(key))
	if _, err := other.open(b, 5); err == nil {
		t.Error("opened with another key")
	}
	if _, err := newSealer(key[:16]); err == nil {
		t.Error("16-byte key accepted")
	}
}

func TestRecoveryCodeFormat(t *testing.T) {
	t.Parallel()
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 19 || strings.Count(c, "-") != 3 || seen[c] {
			t.Errorf("code %q", c)
		}
		seen[c] = true
		if recoveryHash(strings.ToUpper(strings.ReplaceAll(c, "-", " "))) != hashes[i] {
			t.Errorf("typed differently, %q hashes differently", c)
		}
		if n := normalizeCode(c); len(n) != 16 || isTOTPCode(n) {
			t.Errorf("normalized %q", n)
		}
	}
}
