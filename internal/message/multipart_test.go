package message

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const hdr = "From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\n"

// TestStructure checks the part tree, attachment rules and MIME defects on
// small messages.
func TestStructure(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		parts   []string // "path type [att] [filename]"
		defects []string
	}{
		{"single part", hdr + "\nhola\n", []string{"1 text/plain"}, nil},
		{"no body", hdr, []string{"1 text/plain"}, nil},
		{"invalid type defaults", hdr + "Content-Type: text\n\nx", []string{"1 text/plain"}, []string{DefectBadContentType}},
		{"attachment rules", hdr + "Content-Type: multipart/mixed; boundary=b\n\n" +
			"--b\n\ncuerpo\n" +
			"--b\nContent-Type: text/html\n\n<p>x</p>\n" +
			"--b\nContent-Type: text/html; name=pagina.html\n\n<p>x</p>\n" +
			"--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nnotas\n" +
			"--b\nContent-Type: image/png\nContent-Disposition: inline\n\nPNG\n" +
			"--b\nContent-Type: application/pdf\n\n%PDF\n" +
			"--b\nContent-Type: text/calendar\n\nBEGIN\n" +
			"--b\nContent-Type: text/plain\nContent-Disposition: inline; filename=\"nota.txt\"\n\nx\n" +
			"--b\nContent-Type: text/plain\nContent-Disposition: form-data\n\nx\n" +
			"--b--\n",
			[]string{"1 text/plain", "2 text/html", "3 text/html att pagina.html", "4 text/plain att",
				"5 image/png att", "6 application/pdf att", "7 text/calendar att", "8 text/plain att nota.txt",
				"9 text/plain att"}, nil},
		{"digest defaults to message/rfc822", hdr + "Content-Type: multipart/digest; boundary=d\n\n" +
			"--d\n\nSubject: uno\n\nprimero\n--d\nContent-Type: text/plain\n\nsegundo\n--d--\n",
			[]string{"1 message/rfc822 att", "1.1 text/plain", "2 text/plain"}, nil},
		{"rfc822 single part", hdr + "Content-Type: message/rfc822\n\nSubject: dentro\n\ncuerpo\n",
			[]string{"1 message/rfc822 att", "1.1 text/plain"}, nil},
		{"rfc822 base64 is not descended", hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b\n" +
			"Content-Type: message/rfc822; name=\"reenviado.eml\"\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n--b--\n",
			[]string{"1 message/rfc822 att reenviado.eml"}, []string{DefectEncodedMessage}},
		{"missing boundary", hdr + "Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
			[]string{"1 multipart/mixed"}, []string{DefectMissingBoundary}},
		{"boundary not found", hdr + "Content-Type: multipart/mixed; boundary=zz\n\n--b\n\nx\n--b--\n",
			[]string{"1 multipart/mixed"}, []string{DefectBoundaryNotFound}},
		{"only a close delimiter", hdr + "Content-Type: multipart/mixed; boundary=b\n\npreambulo\n--b--\n",
			[]string{"1 multipart/mixed"}, []string{DefectBoundaryNotFound}},
		{"empty multipart in a DSN copy", hdr + "Content-Type: multipart/mixed; boundary=b\n\n",
			[]string{"1 multipart/mixed"}, nil},
		{"unterminated", hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b\n\ny\n",
			[]string{"1 text/plain", "2 text/plain"}, []string{DefectUnterminatedMultipart}},
		{"boundary prefix of nested boundary", hdr + "Content-Type: multipart/mixed; boundary=a\n\n" +
			"--a\nContent-Type: multipart/alternative; boundary=ab\n\n--ab\n\nuno\n--ab\n\ndos\n--ab--\n--a\n\ntres\n--a--\n",
			[]string{"1.1 text/plain", "1.2 text/plain", "2 text/plain"}, nil},
		{"transport padding after delimiter", hdr + "Content-Type: multipart/mixed; boundary=b\n\n--b  \n\nx\n--b-- \t\n",
			[]string{"1 text/plain"}, nil},
		{"base64 multipart falls back to a leaf", hdr + "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\nLS1iCgp4Ci0tYi0tCg==\n",
			[]string{"1 multipart/mixed"}, []string{DefectBoundaryNotFound}},
		{"unknown encoding", hdr + "Content-Transfer-Encoding: base9000\n\nx", []string{"1 text/plain"}, []string{DefectUnknownEncoding}},
		{"unknown part charset", hdr + "Content-Type: text/plain; charset=fakescii\n\nx", []string{"1 text/plain"}, []string{DefectUnknownCharset}},
		{"8-bit header", "From: a@x.mx\nDate: Mon, 3 Jun 2024 10:15:42 -0600\nSubject: Licitaci\xf3n\n\nx",
			[]string{"1 text/plain"}, []string{DefectHeader8bit}},
		{"duplicate content-type", hdr + "Content-Type: text/plain\nContent-Type: text/html\n\nx",
			[]string{"1 text/plain"}, []string{DefectDuplicateField}},
		{"repeated identical field is fine", hdr + "Content-Type: text/plain\nContent-Type: text/plain\n\nx",
			[]string{"1 text/plain"}, nil},
		{"missing from and date", "Subject: x\n\ny", []string{"1 text/plain"}, []string{DefectMissingDate, DefectMissingFrom}},
		{"bad date", "From: a@x.mx\nDate: mañana\n\ny", []string{"1 text/plain"}, []string{DefectBadDate}},
		{"mbox from line", "From a@x.mx Mon Jun  3 10:15:42 2024\n" + hdr + "\nx", []string{"1 text/plain"}, []string{DefectMboxFrom}},
		{"body without separator", hdr + "Subject: x\nEste es el cuerpo\nsin linea vacia\n", []string{"1 text/plain"}, []string{DefectMissingSeparator}},
		{"whitespace-only separator", hdr + "Subject: x\n  \nEste es el cuerpo\n", []string{"1 text/plain"}, []string{DefectBadHeaderLine}},
		{"nul", hdr + "\nx\x00y", []string{"1 text/plain"}, []string{DefectNULByte}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse([]byte(tc.raw), Limits{})
			checkInvariants(t, tc.name, []byte(tc.raw), m)
			var got []string
			for _, p := range m.Parts {
				s := p.Path + " " + p.ContentType
				if p.Attachment {
					s += " att"
				}
				if p.Filename != "" {
					s += " " + p.Filename
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.parts) {
				t.Errorf("parts = %q, want %q", got, tc.parts)
			}
			want := slices.Clone(tc.defects)
			slices.Sort(want)
			if codes := defectCodes(m); !slices.Equal(codes, want) {
				t.Errorf("defects = %q, want %q (%+v)", codes, want, m.Defects)
			}
			var att []string
			for _, p := range m.Attachments() {
				att = append(att, p.Path)
			}
			var wantAtt []string
			for _, p := range tc.parts {
				if strings.Contains(p, " att") {
					wantAtt = append(wantAtt, strings.Fields(p)[0])
				}
			}
			if !slices.Equal(att, wantAtt) {
				t.Errorf("Attachments() = %q, want %q", att, wantAtt)
			}
		})
	}
}

func TestMessageJSON(t *testing.T) {
	raw := []byte(hdr + "Subject: =?utf-8?q?Aclaraci=C3=B3n?=\nMessage-ID: <1@x.mx>\n\nx")
	m := Parse(raw, Limits{})
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v["date"] != "2024-06-03T10:15:42-06:00" || v["subject"] != "Aclaración" || v["message_id"] != "1@x.mx" {
		t.Errorf("JSON = %s", b)
	}
	var back Message
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Date.Equal(m.Date) {
		t.Errorf("date round trip: %v, want %v", back.Date, m.Date)
	}
	back.Date = m.Date
	for i := range back.Parts { // not serialized
		back.Parts[i].Attachment, back.Parts[i].BodyOffset, back.Parts[i].BodyLength =
			m.Parts[i].Attachment, m.Parts[i].BodyOffset, m.Parts[i].BodyLength
	}
	if !reflect.DeepEqual(&back, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *m)
	}
	// A Message value (not a pointer) serializes the same way.
	b2, _ := json.Marshal(*m)
	if string(b2) != string(b) {
		t.Errorf("value and pointer JSON differ:\n%s\n%s", b, b2)
	}
	// No date: the field is omitted.
	b3, _ := json.Marshal(Parse([]byte("Subject: x\n\ny"), Limits{}))
	if strings.Contains(string(b3), `"date"`) {
		t.Errorf("zero date serialized: %s", b3)
	}
}
