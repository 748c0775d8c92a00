package message

import (
	"slices"
	"strings"
	"testing"
)

func newTestParser(raw string) *parser {
	m := &Message{}
	p := &parser{raw: []byte(raw), lim: Limits{}.withDefaults(), msg: m}
	p.words.CharsetReader = charsetReader
	p.addrs.WordDecoder = &p.words
	return p
}

func TestAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
		bad  bool
	}{
		{"a@example.com", []Address{{Address: "a@example.com"}}, false},
		{"Juan Pérez <JPerez@Example.GOB.MX>", []Address{{"Juan Pérez", "JPerez@example.gob.mx"}}, false},
		{`"Pérez, Juan" <jp@x.mx>, ana@x.mx`, []Address{{"Pérez, Juan", "jp@x.mx"}, {"", "ana@x.mx"}}, false},
		{"=?iso-8859-1?q?Jos=E9_Le=F3n?= <jleon@x.mx>", []Address{{"José León", "jleon@x.mx"}}, false},
		{"=?koi8-r?b?8NLJ18XU?= <p@x.ru>", []Address{{"Привет", "p@x.ru"}}, false},
		{`"=?utf-8?B?w5Fvw7Fv?=" <n@x.mx>`, []Address{{"Ñoño", "n@x.mx"}}, false},                // quoted encoded word, as Outlook writes
		{"=?windows-1252?q?=93Comit=E9=94?= <c@x.mx>", []Address{{"“Comité”", "c@x.mx"}}, false}, // windows-1252
		{"=?iso-8859-1?q?=80uro?= <e@x.mx>", []Address{{"€uro", "e@x.mx"}}, false},               // iso-8859-1 read as windows-1252
		{"undisclosed-recipients:;", nil, false},
		{"Equipo: a@x.mx, b@x.mx;", []Address{{"", "a@x.mx"}, {"", "b@x.mx"}}, false},
		{"jp@x.mx (Juan Pérez)", []Address{{"Juan Pérez", "jp@x.mx"}}, false},
		// net/mail rejects these; the tolerant path recovers the address.
		{"jp@x.mx <jp@x.mx>", []Address{{"jp@x.mx", "jp@x.mx"}}, false},
		{"Juan <jp@x.mx>,", []Address{{"Juan", "jp@x.mx"}}, false},
		{"Lic. J. Pérez [SEP] <jp@x.mx>", []Address{{"Lic. J. Pérez [SEP]", "jp@x.mx"}}, false},
		{"=?x-desconocido?q?Juan?= <jp@x.mx>", []Address{{"=?x-desconocido?q?Juan?=", "jp@x.mx"}}, false},
		{"<@relay.mx:jp@x.mx>", []Address{{"", "jp@x.mx"}}, false},
		// unparseable elements keep their text and are reported
		{"Juan Perez", []Address{{Name: "Juan Perez"}}, true},
		{"MAILER-DAEMON <>", []Address{{Name: "MAILER-DAEMON <>"}}, true},
		{"ok@x.mx, Sin Direccion", []Address{{"", "ok@x.mx"}, {Name: "Sin Direccion"}}, true},
		{"Prime, Amazon <service@x.de>", []Address{{"Prime, Amazon", "service@x.de"}}, true},
		{"", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := newTestParser("")
			got := p.addressList(fTo, []byte(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Errorf("addressList(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			bad := slices.ContainsFunc(p.msg.Defects, func(d Defect) bool { return d.Code == DefectBadAddress })
			if bad != tc.bad {
				t.Errorf("bad-address = %v, want %v (%+v)", bad, tc.bad, p.msg.Defects)
			}
		})
	}
}

func TestDecodeWords(t *testing.T) {
	tests := []struct {
		in, want string
		defect   string
	}{
		{"plain text", "plain text", ""},
		{"=?ISO-8859-1?Q?Licitaci=F3n_p=FAblica?=", "Licitación pública", ""},
		{"=?utf-8?b?QWNsYXJhY2nDs24=?=", "Aclaración", ""},
		{"=?utf-8?b?QWNsYXJhY2nDs24?=", "Aclaración", ""}, // missing padding
		{"=?utf-8?q?a?= =?utf-8?q?b?=", "ab", ""},         // blanks between words dropped
		{"=?utf-8?q?a?=\r\n\t=?utf-8?q?b?=", "ab", ""},
		{"x =?utf-8?q?a?= y", "x a y", ""},
		{"RE:=?utf-8?q?a?=", "RE:a", ""},
		{"=?utf-8?b?w6E=?==?utf-8?b?w6k=?=", "áé", ""},
		{"=?utf-8?b?4oK=?= =?utf-8?b?rA==?=", "€", ""}, // a UTF-8 sequence split across words
		{"=?shift_jis?b?k/o=?= =?shift_jis?b?lns=?=", "日本", ""},
		{"=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?=", "日本", ""},
		{"=?gb2312?b?1tDOxA==?=", "中文", ""},
		{"=?big5?b?pKSk5Q==?=", "中文", ""},
		{"=?euc-kr?b?x9Gx2w==?=", "한글", ""},
		{"=?koi8-r?q?=F0=D2=C9=D7=C5=D4?=", "Привет", ""},
		{"=?utf-16?b?/v8AYQBi?=", "ab", ""},
		{"=?UTF-8*es?Q?Espa=C3=B1ol?=", "Español", ""}, // RFC 2231 language suffix
		{"=?x-desconocido?q?hola?= mundo", "=?x-desconocido?q?hola?= mundo", DefectUnknownCharset},
		{"=?utf-8?q?bad=ZZ?=", "=?utf-8?q?bad=ZZ?=", DefectBadEncodedWord},
		{"=?utf-8?x?abc?=", "=?utf-8?x?abc?=", DefectBadEncodedWord},
		{"=?utf-8?b?a!!b?=", "=?utf-8?b?a!!b?=", DefectBadEncodedWord},
		{"=?utf-8?q?unterminated", "=?utf-8?q?unterminated", DefectBadEncodedWord},
		{"http://x/?a=?b", "http://x/?a=?b", ""}, // not an encoded word
		{"=?", "=?", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := newTestParser("")
			if got := p.decodeWords(tc.in, ""); got != tc.want {
				t.Errorf("decodeWords(%q) = %q, want %q", tc.in, got, tc.want)
			}
			var codes []string
			for _, d := range p.msg.Defects {
				codes = append(codes, d.Code)
			}
			if tc.defect == "" && len(codes) > 0 || tc.defect != "" && !slices.Contains(codes, tc.defect) {
				t.Errorf("defects = %q, want %q", codes, tc.defect)
			}
		})
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		in       string
		value    string
		filename string
		bad      bool
	}{
		{`attachment; filename="a.pdf"`, "attachment", "a.pdf", false},
		{`attachment; filename=a.pdf`, "attachment", "a.pdf", false},
		{`attachment; filename=acta de sesion.pdf`, "attachment", "acta de sesion.pdf", false},
		{`attachment; filename*=iso-8859-1''Acta%20de%20sesi%F3n.pdf`, "attachment", "Acta de sesión.pdf", false},
		{`attachment; filename*="iso-8859-1''HasenundFr%F6sche.txt"`, "attachment", "HasenundFrösche.txt", false},
		{`attachment; filename*=windows-1252''%93Informe%94.pdf`, "attachment", "“Informe”.pdf", false},
		{`attachment; filename*=UTF-8''n%C3%B3mina.xls; filename="nomina.xls"`, "attachment", "nómina.xls", false},
		{`attachment; filename*0*=UTF-8''Calendario%20; filename*1="de pagos"; filename*2*=%20%E2%80%93.xls`, "attachment", "Calendario de pagos –.xls", false},
		{`attachment; filename*1="b.pdf"; filename*0="a"`, "attachment", "ab.pdf", false}, // out of order
		{`attachment; filename="=?UTF-8?B?QW5leG8gdMOpY25pY28ueGxzeA==?="`, "attachment", "Anexo técnico.xlsx", false},
		{`attachment; filename="=?utf-8?Q?Informe_?= =?utf-8?Q?anual.pdf?="`, "attachment", "Informe anual.pdf", false},
		{`attachment; filename*0="=?utf-8?B?QW5l"; filename*1="eG8ucGRm?="`, "attachment", "Anexo.pdf", false},
		{`attachment; filename*=x-desconocido''a%F3.pdf`, "attachment", "aó.pdf", false},
		{`attachment; filename="a\"b.pdf"`, "attachment", `a"b.pdf`, false},
		{`attachment; filename="sin cierre.pdf`, "attachment", "sin cierre.pdf", true},
		{`attachment;; filename=a.pdf;`, "attachment", "a.pdf", false},
		{`attachment; novalue; filename=a.pdf`, "attachment", "a.pdf", true},
		{`INLINE; FILENAME=a.pdf`, "INLINE", "a.pdf", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p := newTestParser("")
			v, _, ps, bad := splitParams(tc.in, nil)
			if v != tc.value {
				t.Errorf("value = %q, want %q", v, tc.value)
			}
			if got := p.paramValue(ps, "filename", "1"); got != tc.filename {
				t.Errorf("filename = %q, want %q", got, tc.filename)
			}
			if bad != tc.bad {
				t.Errorf("bad = %v, want %v", bad, tc.bad)
			}
		})
	}
}

// TestLineEndings parses one message written with CRLF, LF, bare CR and a
// mix, with folded fields: the results must agree apart from offsets.
func TestLineEndings(t *testing.T) {
	base := "From: Ana =?utf-8?q?L=C3=B3pez?=\n <ana@x.mx>\nDate: Mon, 3 Jun 2024\n 10:15:42 -0600\n" +
		"Subject: folded\n\tsubject\nContent-Type: multipart/mixed;\n boundary=b\n\n--b\nContent-Type: text/plain\n\nhola\nmundo\n--b\n" +
		"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0x\nLjQK\n--b--\n"
	variants := map[string]string{
		"lf":    base,
		"crlf":  strings.ReplaceAll(base, "\n", "\r\n"),
		"cr":    strings.ReplaceAll(base, "\n", "\r"),
		"mixed": strings.Replace(strings.ReplaceAll(base, "\n--b", "\r\n--b"), "\nSubject", "\rSubject", 1),
	}
	for name, raw := range variants {
		t.Run(name, func(t *testing.T) {
			m := Parse([]byte(raw), Limits{})
			checkInvariants(t, name, []byte(raw), m)
			if len(m.Defects) > 0 {
				t.Errorf("defects: %+v", m.Defects)
			}
			if len(m.From) != 1 || m.From[0].Name != "Ana López" || m.From[0].Address != "ana@x.mx" {
				t.Errorf("From = %+v", m.From)
			}
			if m.Subject != "folded\tsubject" {
				t.Errorf("Subject = %q", m.Subject)
			}
			if m.Date.IsZero() || len(m.Parts) != 2 {
				t.Fatalf("Date = %v, parts = %+v", m.Date, m.Parts)
			}
			if pdf, _ := DecodePart([]byte(raw), m.Parts[1]); string(pdf) != "%PDF-1.4\n" {
				t.Errorf("pdf part = %q", pdf)
			}
			body, _ := DecodePart([]byte(raw), m.Parts[0])
			if got := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(body)); got != "hola\nmundo" {
				t.Errorf("text body = %q", body)
			}
		})
	}
}
