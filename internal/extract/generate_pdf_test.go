package extract

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

// pdfFile writes a classic PDF: the objects numbered from 1, an xref table
// and a trailer whose /Root is object 1.
func pdfFile(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func pdfStreamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// minimalPDF is an uncompressed one-page PDF with a standard font in
// WinAnsiEncoding (octal escapes for the accented letters).
func minimalPDF() []byte {
	content := []byte(`BT
/F1 16 Tf 72 720 Td (Secretar\355a de la Funci\363n P\372blica) Tj
/F1 11 Tf 0 -24 Td (Constancia de recepci\363n de documentos) Tj
14 TL T* [(Folio:) -300 (SFP-2024-00123)] TJ
T* (Se recibi\363 el expediente del se\361or Ra\372l Ib\341\361ez.) Tj
ET`)
	return pdfFile([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		pdfStreamObj("", content),
	})
}

// flatePDF is a PDF 1.5 file with compressed content, an object stream
// and a cross-reference stream, a simple font with /Differences, a
// composite Identity-H font with a ToUnicode CMap, and a form XObject.
func flatePDF(t testing.TB) []byte {
	t.Helper()
	// The composite font: one code per distinct character, digits by bfrange.
	text2 := "Señora Ñúñez: año 2024 — “cumplimiento”"
	codes := map[rune]int{}
	var bfchar strings.Builder
	var shown bytes.Buffer
	for _, r := range text2 {
		c, ok := codes[r]
		if r >= '0' && r <= '9' {
			c, ok = 0x50+int(r-'0'), true
		}
		if !ok {
			c = len(codes) + 1
			codes[r] = c
			fmt.Fprintf(&bfchar, "<%04X> <%04X>\n", c, r)
		}
		binary.Write(&shown, binary.BigEndian, uint16(c))
	}
	cmap := fmt.Sprintf(`/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
%d beginbfchar
%sendbfchar
1 beginbfrange
<0050> <0059> <0030>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end`, len(codes), bfchar.String())
	content := fmt.Sprintf(`q BT
/F1 14 Tf 1 0 0 1 72 720 Tm (Direcci\003n General de Archivos) Tj
/F1 11 Tf 1 0 0 1 72 700 Tm [(Expediente:) -300 (DGA/) 20 (2024/117)] TJ
/F2 11 Tf 1 0 0 1 72 680 Tm <%X> Tj
ET Q
BI /W 2 /H 2 /BPC 8 /CS /G ID `+"\x00EI\xff"+` EI
q 1 0 0 1 0 -40 cm /Fm1 Do Q
`, shown.Bytes())
	form := "BT /F1 9 Tf 72 100 Td (Documento electr\003nico firmado con e.firma) Tj ET"

	// Objects 1–6 go into the object stream 9.
	inStream := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> /XObject << /Fm1 10 0 R >> >> /Contents 8 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [1 /aacute /ntilde /oacute /iacute] >> >>",
		"<< /Type /Font /Subtype /Type0 /BaseFont /ArialMT /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
		"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ArialMT /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 600 /W [1 [720 556 556 333 556]] >>",
	}
	var head, body strings.Builder
	for i, o := range inStream {
		fmt.Fprintf(&head, "%d %d ", i+1, body.Len())
		body.WriteString(o + "\n")
	}
	objstm := head.String() + "\n" + body.String()

	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	write := func(n int, s string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, s)
	}
	write(7, pdfStreamObj("/Filter /FlateDecode", deflate([]byte(cmap))))
	write(8, pdfStreamObj("/Filter /FlateDecode", deflate([]byte(content))))
	write(9, pdfStreamObj(fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode", len(inStream), len(head.String())+1), deflate([]byte(objstm))))
	write(10, pdfStreamObj("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Filter /FlateDecode", deflate([]byte(form))))
	// Cross-reference stream: W [1 4 2], uncompressed.
	var xref bytes.Buffer
	entry := func(typ byte, a uint32, c uint16) {
		xref.WriteByte(typ)
		binary.Write(&xref, binary.BigEndian, a)
		binary.Write(&xref, binary.BigEndian, c)
	}
	xrefOff := b.Len()
	offs[11] = xrefOff
	entry(0, 0, 65535)
	for n := 1; n <= 11; n++ {
		if n <= len(inStream) {
			entry(2, 9, uint16(n-1))
		} else {
			entry(1, uint32(offs[n]), 0)
		}
	}
	write(11, pdfStreamObj("/Type /XRef /Size 12 /W [1 4 2] /Root 1 0 R", xref.Bytes()))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xrefOff)
	return b.Bytes()
}

// fpdfPDF is written by github.com/go-pdf/fpdf: compressed streams,
// standard fonts in windows-1252, justified text (word spacing), a table
// and two pages.
func fpdfPDF(t testing.TB) []byte {
	t.Helper()
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCompression(true)
	pdf.SetCreationDate(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC))
	pdf.SetModificationDate(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC))
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 14)
	pdf.CellFormat(0, 10, tr("Comisión Estatal de Derechos Humanos"), "", 1, "C", false, 0, "")
	pdf.SetFont("Times", "", 11)
	pdf.MultiCell(0, 5, tr("Con fundamento en los artículos 6 y 16 de la Constitución Política de los Estados Unidos "+
		"Mexicanos, se emite la presente recomendación dirigida a la Presidencia Municipal, a fin de que se "+
		"garantice el derecho de petición de la señora Guadalupe Ríos Peña."), "", "J", false)
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "", 10)
	for _, row := range [][2]string{{"Expediente", "CEDH/QJ/0345/2024"}, {"Fecha de emisión", "15 de enero de 2024"}} {
		pdf.CellFormat(50, 7, tr(row[0]), "1", 0, "", false, 0, "")
		pdf.CellFormat(80, 7, tr(row[1]), "1", 1, "", false, 0, "")
	}
	pdf.AddPage()
	pdf.SetFont("Courier", "", 10)
	pdf.Cell(0, 10, tr("Página 2: anexo único — acuse de recibo"))
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// protectedPDFs encrypts: RC4 with github.com/go-pdf/fpdf, AES-128 and
// AES-256 with qpdf when installed, all with an empty user password
// (printable, not editable), and one that needs a user password.
func protectedPDFs(t testing.TB) map[string][]byte {
	t.Helper()
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCreationDate(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC))
	pdf.SetModificationDate(time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC))
	pdf.SetProtection(fpdf.CnProtectPrint, "", "propietario")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "", 12)
	pdf.MultiCell(0, 6, tr("Dictamen protegido contra modificación.\nÓrgano Interno de Control, expediente OIC/DE/077/2024."), "", "L", false)
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"protegido-rc4.pdf": buf.Bytes()}
	qpdf, err := exec.LookPath("qpdf")
	if err != nil {
		t.Log("qpdf not installed: AES fixtures not regenerated")
		return out
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, fpdfPDF(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"protegido-aes128.pdf":  {"--encrypt", "", "propietario", "128", "--use-aes=y", "--"},
		"protegido-aes256.pdf":  {"--encrypt", "", "propietario", "256", "--"},
		"protegido-usuario.pdf": {"--encrypt", "secreto", "propietario", "256", "--"},
	} {
		dst := filepath.Join(dir, name)
		cmd := exec.Command(qpdf, append(args, in, dst)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("qpdf %s: %v: %s", name, err, b)
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// chromiumPDF prints an HTML page with headless Chromium (embedded
// TrueType subsets, Identity-H fonts with ToUnicode), or returns nil when
// Chromium is not installed.
func chromiumPDF(t testing.TB) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("chromium not installed: chromium.pdf not regenerated")
		return nil
	}
	dir := t.TempDir()
	page := `<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><style>body{font-family:sans-serif;font-size:12pt}</style></head><body>
<h2>Tribunal de Justicia Administrativa</h2>
<p>Acuerdo de admisión del juicio de nulidad 1234/2024 promovido por Comercializadora Añil, S.A. de C.V.</p>
<p>Notifíquese personalmente. Así lo acordó la Magistrada Instructora, Dra. Sofía Ángeles Ruiz.</p>
</body></html>`
	in := filepath.Join(dir, "acuerdo.html")
	out := filepath.Join(dir, "acuerdo.pdf")
	if err := os.WriteFile(in, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
		"--print-to-pdf="+out, "file://"+in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Logf("chromium: %v: %s", err, b)
		return nil
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// messageFixture is a forwarded request: multipart/alternative (the HTML
// must not be indexed twice), an encapsulated message with a base64 body
// and a windows-1252 CSV attachment, a PDF attachment and an image.
func messageFixture(pdf []byte) []byte {
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		return out.String() + s
	}
	msg := `From: "Unidad de Transparencia" <transparencia@ieaip.example.gob.mx>
To: archivo@ieaip.example.gob.mx
Subject: =?UTF-8?Q?RV:_Solicitud_de_informaci=C3=B3n_n=C3=BAm._UT/2024/117?=
Date: Mon, 15 Jan 2024 10:30:00 -0600
Message-ID: <20240115103000.1@ieaip.example.gob.mx>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="ext-mixed"

--ext-mixed
Content-Type: multipart/alternative; boundary="ext-alt"

--ext-alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Les reenv=EDo la solicitud recibida por el portal. Favor de dar tr=E1mite.
--ext-alt
Content-Type: text/html; charset=utf-8

<p>Les reenv&iacute;o la solicitud (versi&oacute;n HTML).</p>
--ext-alt--
--ext-mixed
Content-Type: message/rfc822

From: Ciudadano <solicitante@example.com>
Subject: =?ISO-8859-1?Q?Solicitud_de_informaci=F3n?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="int"

--int
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

` + b64([]byte("Solicito copia de los contratos de arrendamiento celebrados en 2023.")) + `
--int
Content-Type: text/csv; charset=windows-1252; name="contratos.csv"
Content-Disposition: attachment; filename="contratos.csv"

Contrato,Arrendador,Importe
CA-001,Inmobiliaria Monta` + "\xf1" + `a S.A.,"$12,000.00"
--int--
--ext-mixed
Content-Type: application/pdf; name="constancia.pdf"
Content-Disposition: attachment; filename="constancia.pdf"
Content-Transfer-Encoding: base64

` + b64(pdf) + `
--ext-mixed
Content-Type: image/png; name="logo.png"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==
--ext-mixed--
`
	return []byte(strings.ReplaceAll(msg, "\n", "\r\n"))
}
