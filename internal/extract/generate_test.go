package extract

import (
	"archive/zip"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var generate = flag.Bool("generate", false, "regenerate the fixtures in testdata (then run with -update for the golden files)")

// TestGenerateFixtures writes the fixtures of testdata: Office and
// OpenDocument packages written as zip + XML here (LibreOffice is not
// needed), PDFs written by hand, with github.com/go-pdf/fpdf and, when
// installed, by Chromium, plus RTF, HTML, CSV, text and a message. The
// content is Spanish institutional text; people and data are invented.
func TestGenerateFixtures(t *testing.T) {
	if !*generate {
		t.Skip("run with -generate to rewrite testdata")
	}
	for name, entries := range map[string][][2]string{
		"oficio.docx":       docxFixture(),
		"presupuesto.xlsx":  xlsxFixture(),
		"informe.pptx":      pptxFixture(),
		"acta.odt":          odtFixture(),
		"padron.ods":        odsFixture(),
		"presentacion.odp":  odpFixture(),
		"sin-extension.bin": docxFixture(), // a DOCX without name or type: sniffed
	} {
		writeFixture(t, name, zipOf(t, entries))
	}
	writeFixture(t, "circular.rtf", []byte(rtfFixture))
	writeFixture(t, "boletin.html", []byte(htmlFixture))
	writeFixture(t, "padron.csv", []byte("\ufeffNombre;Cargo;Adscripción;Sueldo mensual\r\n"+
		"\"Pérez Núñez, Ana Lucía\";Directora de Programación;\"Dirección General; Oficina 3\";\"$45,300.00\"\r\n"+
		"Gutiérrez Ávila José Ramón;Jefe de Departamento;Recursos Materiales;$32,450.50\r\n"))
	writeFixture(t, "aviso.txt", []byte("AVISO DE PRIVACIDAD SIMPLIFICADO\r\n\r\n\r\n"+
		"El Instituto de Transparencia del Estado   tratará sus datos personales\tcon la finalidad de\r\n"+
		"dar trámite a su solicitud.\r\n\r\n   Consulte el aviso integral en el portal institucional.\r\n"))
	// windows-1252 text, as legacy systems still write it.
	writeFixture(t, "aviso-latin1.txt", []byte("Notificaci\xf3n: el tr\xe1mite de la se\xf1ora Mu\xf1oz concluy\xf3 \x80 0.00\n"))
	pdfs := map[string][]byte{"minimal.pdf": minimalPDF(), "flate.pdf": flatePDF(t), "fpdf.pdf": fpdfPDF(t)}
	if b := chromiumPDF(t); b != nil {
		pdfs["chromium.pdf"] = b
	}
	for name, b := range protectedPDFs(t) {
		pdfs[name] = b
	}
	for name, b := range pdfs {
		writeFixture(t, name, b)
	}
	writeFixture(t, "reenvio.eml", messageFixture(pdfs["minimal.pdf"]))
}

func writeFixture(t *testing.T, name string, b []byte) {
	t.Helper()
	if len(b) > 50<<10 {
		t.Fatalf("%s: %d bytes, fixtures stay under 50 KB", name, len(b))
	}
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// zipOf writes a zip; an ODF "mimetype" entry goes first and stored.
func zipOf(t testing.TB, entries [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e[0], Method: zip.Deflate}
		if e[0] == "mimetype" {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	relsNS  = `xmlns="http://schemas.openxmlformats.org/package/2006/relationships"`
	wNS     = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"`
	relBase = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
)

func contentTypes(main string, extra ...string) string {
	s := xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` + main
	for _, e := range extra {
		s += e
	}
	return s + `</Types>`
}

func rels(rs ...string) string {
	s := xmlHead + `<Relationships ` + relsNS + `>`
	for i := 0; i+2 < len(rs); i += 3 {
		s += `<Relationship Id="` + rs[i] + `" Type="` + relBase + rs[i+1] + `" Target="` + rs[i+2] + `"/>`
	}
	return s + `</Relationships>`
}

func wPara(runs string) string {
	return `<w:p><w:pPr><w:pStyle w:val="Normal"/></w:pPr>` + runs + `</w:p>`
}
func wRun(text string) string {
	return `<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">` + text + `</w:t></w:r>`
}

func docxFixture() [][2]string {
	body := wPara(wRun("OFICIO No. DGRM/0457/2024")) +
		wPara(wRun("Asunto: ")+wRun("Solicitud de información presupuestaria")) +
		wPara(wRun("Mtra. Ana Lucía Pérez Núñez")+`<w:r><w:br/></w:r>`+wRun("Directora de Programación")) +
		wPara(wRun("Por medio del presente solicito la información relativa al ejercicio del presupuesto autorizado para 2024,")+
			`<w:del w:id="1" w:author="Revisor"><w:r><w:delText>texto eliminado en la revisión</w:delText></w:r></w:del>`+
			wRun(" conforme al artículo 45 de la Ley Federal de Presupuesto y Responsabilidad Hacendaria.")+
			`<w:r><w:footnoteReference w:id="1"/></w:r>`) +
		`<w:tbl><w:tr><w:tc>` + wPara(wRun("Partida")) + `</w:tc><w:tc>` + wPara(wRun("Monto")) + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + wPara(wRun("21101 Materiales de oficina")) + `</w:tc><w:tc>` + wPara(wRun("$125,000.00")) + `</w:tc></w:tr></w:tbl>` +
		wPara(`<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r><w:r><w:t>1</w:t></w:r>`) +
		wPara(`<mc:AlternateContent><mc:Choice Requires="wps"><w:r><w:t>Cuadro de texto</w:t></w:r></mc:Choice>`+
			`<mc:Fallback><w:r><w:t>Cuadro de texto</w:t></w:r></mc:Fallback></mc:AlternateContent>`) +
		wPara(wRun("Atentamente")+`<w:r><w:tab/></w:r>`+wRun("Lic. José Ramón Gutiérrez Ávila"))
	return [][2]string{
		{"[Content_Types].xml", contentTypes(`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>`)},
		{"_rels/.rels", rels("rId1", "officeDocument", "word/document.xml")},
		{"word/_rels/document.xml.rels", rels("rId1", "header", "header1.xml", "rId2", "footer", "footer1.xml", "rId3", "footnotes", "footnotes.xml")},
		{"word/document.xml", xmlHead + `<w:document ` + wNS + `><w:body>` + body + `<w:sectPr/></w:body></w:document>`},
		{"word/header1.xml", xmlHead + `<w:hdr ` + wNS + `>` + wPara(wRun("Secretaría de Administración y Finanzas — Dirección General de Recursos Materiales")) + `</w:hdr>`},
		{"word/footer1.xml", xmlHead + `<w:ftr ` + wNS + `>` + wPara(wRun("Av. Reforma 123, Col. Centro, C.P. 06000, Ciudad de México")) + `</w:ftr>`},
		{"word/footnotes.xml", xmlHead + `<w:footnotes ` + wNS + `><w:footnote w:id="1">` + wPara(wRun("Publicada en el Diario Oficial de la Federación el 30 de marzo de 2006.")) + `</w:footnote></w:footnotes>`},
	}
}

func xlsxFixture() [][2]string {
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	return [][2]string{
		{"[Content_Types].xml", contentTypes(`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`)},
		{"_rels/.rels", rels("rId1", "officeDocument", "xl/workbook.xml")},
		{"xl/_rels/workbook.xml.rels", rels("rId1", "worksheet", "worksheets/sheet1.xml", "rId2", "worksheet", "worksheets/sheet2.xml", "rId3", "sharedStrings", "sharedStrings.xml")},
		{"xl/workbook.xml", xmlHead + `<workbook ` + ns + `><sheets><sheet name="Presupuesto 2024" sheetId="1" r:id="rId1"/><sheet name="Resumen" sheetId="2" r:id="rId2"/></sheets></workbook>`},
		{"xl/sharedStrings.xml", xmlHead + `<sst ` + ns + ` count="6" uniqueCount="6">` +
			`<si><t>Partida</t></si><si><t>Descripción</t></si><si><t>Monto</t></si><si><t>Materiales de oficina</t></si>` +
			`<si><r><t xml:space="preserve">Servicios </t></r><r><rPr><b/></rPr><t>básicos</t></r><rPh sb="0" eb="1"><t>フリガナ</t></rPh></si>` +
			`<si><t>Combustibles &amp; lubricantes</t></si></sst>`},
		{"xl/worksheets/sheet1.xml", xmlHead + `<worksheet ` + ns + `><sheetData>` +
			`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>` +
			`<row r="2"><c r="A2"><v>21101</v></c><c r="B2" t="s"><v>3</v></c><c r="C2"><v>125000.5</v></c></row>` +
			`<row r="3"><c r="A3"><v>31101</v></c><c r="B3" t="s"><v>4</v></c><c r="C3"><v>98765.25</v></c></row>` +
			`<row r="4"><c r="A4"><v>26101</v></c><c r="B4" t="s"><v>5</v></c><c r="C4"><f>C2-C3</f><v>26235.25</v></c><c r="D4" t="b"><v>1</v></c></row>` +
			`</sheetData></worksheet>`},
		{"xl/worksheets/sheet2.xml", xmlHead + `<worksheet ` + ns + `><sheetData>` +
			`<row r="1"><c r="A1" t="inlineStr"><is><t>Total ejercido</t></is></c><c r="B1"><f>SUM(Presupuesto!C2:C4)</f><v>250000.999</v></c></row>` +
			`<row r="2"><c r="A2" t="str"><f>"Corte al "&amp;TEXT(45657,"dd/mm/aaaa")</f><v>Corte al 31/12/2024</v></c><c r="B2" t="e"><v>#N/A</v></c></row>` +
			`</sheetData></worksheet>`},
	}
}

func pptxFixture() [][2]string {
	const ns = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
	slide := func(title, body string) string {
		return xmlHead + `<p:sld ` + ns + `><p:cSld><p:spTree>` +
			`<p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:rPr lang="es-MX"/><a:t>` + title + `</a:t></a:r></a:p></p:txBody></p:sp>` +
			`<p:sp><p:txBody><a:bodyPr/>` + body + `</p:txBody></p:sp></p:spTree></p:cSld></p:sld>`
	}
	return [][2]string{
		{"[Content_Types].xml", contentTypes(`<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>`)},
		{"_rels/.rels", rels("rId1", "officeDocument", "ppt/presentation.xml")},
		// The slides are stored in the opposite order: presentation.xml decides.
		{"ppt/_rels/presentation.xml.rels", rels("rId7", "slide", "slides/slide1.xml", "rId8", "slide", "slides/slide2.xml")},
		{"ppt/presentation.xml", xmlHead + `<p:presentation ` + ns + `><p:sldIdLst><p:sldId id="256" r:id="rId8"/><p:sldId id="257" r:id="rId7"/></p:sldIdLst></p:presentation>`},
		{"ppt/slides/slide2.xml", slide("Informe trimestral de transparencia", `<a:p><a:r><a:t>Primer trimestre de 2024</a:t></a:r><a:br/><a:r><a:t>Unidad de Transparencia</a:t></a:r></a:p>`)},
		{"ppt/slides/slide1.xml", slide("Solicitudes de acceso a la información", `<a:p><a:r><a:t>Recibidas: 1,234</a:t></a:r></a:p><a:p><a:r><a:t>Atendidas en plazo: 98 %</a:t></a:r></a:p>`)},
		{"ppt/slides/_rels/slide1.xml.rels", rels("rId1", "notesSlide", "../notesSlides/notesSlide1.xml")},
		{"ppt/notesSlides/notesSlide1.xml", xmlHead + `<p:notes ` + ns + `><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>Mencionar el plazo de 20 días hábiles.</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:notes>`},
	}
}

const odfNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" ` +
	`xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" ` +
	`xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.3"`

func odfPackage(mime, body string, extra ...[2]string) [][2]string {
	e := [][2]string{
		{"mimetype", mime},
		{"META-INF/manifest.xml", xmlHead + `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:media-type="` + mime + `"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`},
		{"content.xml", xmlHead + `<office:document-content ` + odfNS + `><office:body>` + body + `</office:body></office:document-content>`},
	}
	return append(e, extra...)
}

func odtFixture() [][2]string {
	return odfPackage("application/vnd.oasis.opendocument.text", `<office:text>`+
		`<text:tracked-changes><text:changed-region text:id="c1"><text:deletion><text:p>Párrafo suprimido</text:p></text:deletion></text:changed-region></text:tracked-changes>`+
		`<text:h text:outline-level="1">Acta de la Sesión Ordinaria del Comité de Transparencia</text:h>`+
		`<text:p>En la Ciudad de México,<text:s text:c="3"/>siendo las <text:span>10:00 horas</text:span> del día 15 de enero de 2024,<text:line-break/>se reunieron los integrantes del Comité.</text:p>`+
		`<text:list><text:list-item><text:p>Lista de asistencia</text:p></text:list-item><text:list-item><text:p>Aprobación del orden del día</text:p></text:list-item></text:list>`+
		`<table:table table:name="Votación"><table:table-row><table:table-cell><text:p>Integrante</text:p></table:table-cell><table:table-cell><text:p>Voto</text:p></table:table-cell></table:table-row>`+
		`<table:table-row><table:table-cell><text:p>Dra. Beatriz Olvera Sáenz</text:p></table:table-cell><table:table-cell><text:p>A favor</text:p></table:table-cell></table:table-row></table:table>`+
		`<text:p>Nota<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>Sesión celebrada en modalidad híbrida.</text:p></text:note-body></text:note></text:p>`+
		`</office:text>`,
		[2]string{"styles.xml", xmlHead + `<office:document-styles ` + odfNS + `><office:master-styles><style:master-page style:name="Standard">` +
			`<style:header><text:p>Instituto Estatal de Acceso a la Información Pública</text:p></style:header>` +
			`<style:footer><text:p>Página <text:page-number>1</text:page-number></text:p></style:footer></style:master-page></office:master-styles></office:document-styles>`})
}

func odsFixture() [][2]string {
	return odfPackage("application/vnd.oasis.opendocument.spreadsheet", `<office:spreadsheet><table:table table:name="Padrón">`+
		`<table:table-row><table:table-cell office:value-type="string"><text:p>Nombre</text:p></table:table-cell><table:table-cell><text:p>Cargo</text:p></table:table-cell><table:table-cell><text:p>Sueldo</text:p></table:table-cell></table:table-row>`+
		`<table:table-row><table:table-cell><text:p>María Fernanda López</text:p></table:table-cell><table:table-cell><text:p>Jefa de Departamento</text:p></table:table-cell>`+
		`<table:table-cell office:value-type="currency" office:currency="MXN" office:value="32450"><text:p>$32,450.00</text:p></table:table-cell><table:table-cell table:number-columns-repeated="1020"/></table:table-row>`+
		`<table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>`+
		`</table:table></office:spreadsheet>`)
}

func odpFixture() [][2]string {
	frame := func(s string) string {
		return `<draw:frame><draw:text-box><text:p>` + s + `</text:p></draw:text-box></draw:frame>`
	}
	return odfPackage("application/vnd.oasis.opendocument.presentation", `<office:presentation>`+
		`<draw:page draw:name="p1">`+frame("Programa Anual de Capacitación 2024")+frame("Dirección de Desarrollo de Personal")+
		`<presentation:notes><draw:frame><draw:text-box><text:p>Presentar ante el Comité el 5 de febrero.</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>`+
		`<draw:page draw:name="p2">`+frame("Cursos: ética pública, protección de datos personales")+`</draw:page>`+
		`</office:presentation>`)
}

const rtfFixture = `{\rtf1\ansi\ansicpg1252\deff0\nouicompat{\fonttbl{\f0\fswiss\fcharset0 Arial;}{\f1\froman\fcharset204 Times New Roman Cyr;}}
{\colortbl ;\red0\green0\blue255;}
{\*\generator Riched20 10.0.19041}{\info{\title Circular}{\author Oficial\'eda Mayor}}\viewkind4\uc1
\pard\sa200\sl276\slmult1\b\f0\fs24 CIRCULAR N\'daM. 12/2024\b0\par
Se comunica a todo el personal de la Direcci\'f3n de Recursos Humanos que el pr\'f3ximo lunes se suspender\'e1n labores.\par
Consulte el {\field{\*\fldinst{HYPERLINK "https://transparencia.example.gob.mx"}}{\fldrslt{\ul\cf1 Portal de Transparencia}}}.\par
{\pict\wmetafile8\picw100\pich100 0100090000035000000000002700000000000400000003010800}
\trowd\cellx2000\cellx4000 Concepto\cell Importe\cell\row
Vi\u225?ticos\cell \u8364? 1,500.00\cell\row
\pard Atentamente,\tab Comit\u233\'e9 de \u201\'c9tica\line Texto en cir\'edlico: {\f1 \'c4\'e0\'ed\'ed\'fb\'e5}\par
}`

const htmlFixture = `<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>Boletín interno</title>
<style>body { font-family: Arial; } .oculto { color: red }</style>
<script>var x = "<p>no es texto</p>"; if (a < b) { alert('hola'); }</script>
<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/></o:OfficeDocumentSettings></xml><![endif]-->
</head>
<body>
<h1>Bolet&iacute;n de la Unidad de Transparencia</h1>
<p>Estimado   personal:<br>les informamos que el portal estar&aacute; fuera de servicio
el <b>s&aacute;bado</b> de 8:00 a 12:00&nbsp;h.</p>
<!-- comentario que no se indexa -->
<table><tr><th>Área</th><th>Responsable</th></tr>
<tr><td>Archivo de Concentración</td><td>Lic. Martín Ibáñez</td></tr></table>
<ul><li>Solicitudes &amp; recursos</li><li>Costo: &#8364;0 &#x2014; gratuito</li></ul>
<pre>Folio   UT/2024/001
Fecha   15/01/2024</pre>
<p>Texto con etiqueta sin cerrar <a href="https://example.gob.mx/aviso?x=1&y=2" title='a > b'>aviso de privacidad
<p>Si 3 < 5 y 5 > 3, la expresión es verdadera.</p>
</body></html>`
