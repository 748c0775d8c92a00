package message

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name string
		enc  transferEncoding
		in   string
		want string
		bad  bool
	}{
		{"b64", cteBase64, "aG9sYSBtdW5kbw==", "hola mundo", false},
		{"b64 lines crlf", cteBase64, "aG9sYSBt\r\ndW5kbw==\r\n", "hola mundo", false},
		{"b64 cr", cteBase64, "aG9sYSBt\rdW5kbw==\r", "hola mundo", false},
		{"b64 blanks", cteBase64, " aG9s YSBt\tdW5k bw== \n", "hola mundo", false},
		{"b64 no padding", cteBase64, "aG9sYSBtdW5kbw", "hola mundo", false},
		{"b64 one pad missing", cteBase64, "aG9sYSBtdW5kbw=", "hola mundo", false},
		{"b64 odd line length", cteBase64, "aG9sYSB\ntdW5kbw==", "hola mundo", false},
		{"b64 invalid char", cteBase64, "aG9s*YSBtdW5kbw==", "hola mundo", true},
		{"b64 truncated", cteBase64, "aG9sYSBtdW5kbw==\naG9sY", "hola mundohol", true},
		{"b64 concatenated", cteBase64, "aG9sYQ==\nIG11bmRv\n", "hola mundo", false},
		{"b64 pad inside line", cteBase64, "aG9sYQ==IG11bmRv", "hola mundo", false},
		{"b64 stray pad", cteBase64, "aG9sYSBtdW5kbw==\n=\n", "hola mundo", true},
		{"b64 long line", cteBase64, strings.Repeat("QUJD", 5000), strings.Repeat("ABC", 5000), false},
		{"qp", cteQP, "Acci=C3=B3n =\r\nsoft\r\nline  \r\n", "Acción soft\r\nline\r\n", false},
		{"qp lf", cteQP, "a=3Db\nc=\nd", "a=b\ncd", false},
		{"qp lowercase hex", cteQP, "a=c3=b3", "aó", false},
		{"qp bad escape", cteQP, "precio =ZZ 100 = 5", "precio =ZZ 100 = 5", true},
		{"qp trailing equals", cteQP, "fin=", "fin", false},
		{"qp 8bit passthrough", cteQP, "a\xf3b", "a\xf3b", false},
		{"identity", cteIdentity, "tal cual\r\n", "tal cual\r\n", false},
		{"unknown", cteUnknown, "\x00\x01", "\x00\x01", false},
		{"uu", cteUU, "begin 644 a.txt\n%:&]L80H`\n`\nend\n", "hola\n", false},
		{"uu truncated", cteUU, "begin 644 a.txt\n%:&]L80H`\n", "hola\n", true},
		{"uu no begin", cteUU, "%:&]L80H`\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{collect: true}
			f := decodeBody(s, []byte(tc.in), tc.enc)
			if string(s.out) != tc.want {
				t.Errorf("decoded %q, want %q", s.out, tc.want)
			}
			if bad := f != 0; bad != tc.bad {
				t.Errorf("bad = %v, want %v", bad, tc.bad)
			}
			if s.n != int64(len(s.out)) {
				t.Errorf("counted %d bytes, wrote %d", s.n, len(s.out))
			}
		})
	}
}

func TestDecodePartRange(t *testing.T) {
	raw := []byte("Subject: x\n\nbody")
	for _, p := range []Part{{BodyOffset: 12, BodyLength: 5}, {BodyOffset: -1, BodyLength: 1}, {BodyOffset: 20}, {BodyOffset: 1, BodyLength: -2}} {
		if _, err := DecodePart(raw, p); !errors.Is(err, ErrPartRange) {
			t.Errorf("DecodePart(%+v) error = %v, want ErrPartRange", p, err)
		}
	}
	got, err := DecodePart(raw, Part{BodyOffset: 12, BodyLength: 4})
	if err != nil || string(got) != "body" {
		t.Errorf("DecodePart = %q, %v", got, err)
	}
}

// TestHashWhileDecoding checks that the hash Parse records for a large
// base64 attachment (many staging-buffer flushes) is that of the content.
func TestHashWhileDecoding(t *testing.T) {
	content := make([]byte, 300_001)
	for i := range content {
		content[i] = byte(i * 7)
	}
	var b64 strings.Builder
	enc := hexToB64(content)
	for i := 0; i < len(enc); i += 76 {
		b64.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
	}
	raw := "From: a@x.mx\r\nDate: Mon, 3 Jun 2024 10:15:42 -0600\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64.String()
	m := Parse([]byte(raw), Limits{})
	sum := sha256.Sum256(content)
	if len(m.Parts) != 1 || m.Parts[0].Size != int64(len(content)) || m.Parts[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("parts = %+v", m.Parts)
	}
	if m.Malformed() {
		t.Errorf("defects: %+v", m.Defects)
	}
}

func hexToB64(b []byte) string {
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for k := range 3 {
			v <<= 8
			if k < n {
				v |= uint32(b[i+k])
			}
		}
		for k := range 4 {
			if k <= n {
				s.WriteByte(a[v>>(18-6*k)&63])
			} else {
				s.WriteByte('=')
			}
		}
	}
	return s.String()
}

func TestLimits(t *testing.T) {
	nested := func(depth int) string {
		var b strings.Builder
		b.WriteString("From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\n")
		for i := range depth {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\n\nfondo\n")
		return b.String()
	}
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\nContent-Type: multipart/mixed; boundary=b\n\n")
		for i := range n {
			fmt.Fprintf(&b, "--b\n\nparte %d\n", i)
		}
		b.WriteString("--b--\n")
		return b.String()
	}
	fields := func(n int) string {
		var b strings.Builder
		b.WriteString("From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\n")
		for i := range n {
			fmt.Fprintf(&b, "X-Campo-%d: valor\n", i)
		}
		b.WriteString("Subject: al final\n\ncuerpo\n")
		return b.String()
	}
	rfc822 := func(depth int) string {
		var b strings.Builder
		for range depth {
			b.WriteString("From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\nContent-Type: message/rfc822\n\n")
		}
		b.WriteString("Subject: fondo\n\nfondo\n")
		return b.String()
	}
	tests := []struct {
		name   string
		raw    string
		lim    Limits
		defect string // must be reported, or, with a "!" prefix, must not
		parts  int
	}{
		{"depth default ok", nested(32), Limits{}, "!" + DefectDepthLimit, 1},
		{"depth default exceeded", nested(40), Limits{}, DefectDepthLimit, 1},
		{"depth 3", nested(5), Limits{MaxDepth: 3}, DefectDepthLimit, 1},
		{"depth clamp", nested(300), Limits{MaxDepth: 1 << 30}, DefectDepthLimit, 1},
		{"rfc822 depth", rfc822(10), Limits{MaxDepth: 4}, DefectDepthLimit, 5},
		{"parts", many(50), Limits{MaxParts: 10}, DefectPartsLimit, 9},
		{"parts default ok", many(4000), Limits{}, "", 4000},
		{"fields", fields(100), Limits{MaxHeaderFields: 20}, DefectHeaderLimit, 1},
		{"header bytes", fields(100), Limits{MaxHeaderBytes: 500}, DefectHeaderLimit, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse([]byte(tc.raw), tc.lim)
			checkInvariants(t, tc.name, []byte(tc.raw), m)
			codes := defectCodes(m)
			if not, ok := strings.CutPrefix(tc.defect, "!"); ok {
				if slices.Contains(codes, not) {
					t.Errorf("defects = %q, want no %q", codes, not)
				}
			} else if tc.defect == "" && len(codes) > 0 || tc.defect != "" && !slices.Contains(codes, tc.defect) {
				t.Errorf("defects = %q, want %q", codes, tc.defect)
			}
			if len(m.Parts) != tc.parts {
				t.Errorf("%d parts, want %d", len(m.Parts), tc.parts)
			}
		})
	}
}
