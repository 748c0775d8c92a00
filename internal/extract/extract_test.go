package extract

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixtureType is the MIME type a mail client would give each fixture.
var fixtureType = map[string]string{
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".odp":  "application/vnd.oasis.opendocument.presentation",
	".pdf":  "application/pdf",
	".rtf":  "application/rtf",
	".html": "text/html; charset=utf-8",
	".csv":  "text/csv",
	".txt":  "text/plain",
	".eml":  "message/rfc822",
	".bin":  "",
}

// fixtureWant lists what each fixture's text must and must not hold, so
// that a golden file cannot silently record a wrong extraction.
var fixtureWant = map[string]struct {
	kind     string
	has, not []string
}{
	"oficio.docx": {"docx", []string{"OFICIO No. DGRM/0457/2024", "Asunto: Solicitud de información presupuestaria",
		"Mtra. Ana Lucía Pérez Núñez\nDirectora de Programación", "Partida Monto", "21101 Materiales de oficina $125,000.00",
		"Atentamente Lic. José Ramón Gutiérrez Ávila", "Secretaría de Administración y Finanzas", "C.P. 06000", "Diario Oficial"},
		[]string{"texto eliminado", "PAGE", "Cuadro de texto\nCuadro de texto"}},
	"sin-extension.bin": {"docx", []string{"OFICIO No. DGRM/0457/2024"}, nil},
	"presupuesto.xlsx": {"xlsx", []string{"Presupuesto 2024\nPartida Descripción Monto\n21101 Materiales de oficina 125000.5",
		"Servicios básicos", "Combustibles & lubricantes 26235.25", "Resumen\nTotal ejercido 250000.999\nCorte al 31/12/2024"},
		[]string{"フリガナ", "#N/A", "SUM("}},
	"informe.pptx": {"pptx", []string{"Informe trimestral de transparencia\nPrimer trimestre de 2024\nUnidad de Transparencia\nSolicitudes de acceso",
		"Recibidas: 1,234", "Mencionar el plazo de 20 días hábiles."}, nil},
	"acta.odt": {"odt", []string{"Acta de la Sesión Ordinaria del Comité de Transparencia", "En la Ciudad de México, siendo las 10:00 horas",
		"2024,\nse reunieron", "Lista de asistencia\nAprobación", "Dra. Beatriz Olvera Sáenz A favor", "Sesión celebrada en modalidad híbrida",
		"Instituto Estatal de Acceso a la Información Pública"}, []string{"Párrafo suprimido", "Nota1"}},
	"padron.ods":       {"ods", []string{"Nombre Cargo Sueldo\nMaría Fernanda López Jefa de Departamento $32,450.00"}, nil},
	"presentacion.odp": {"odp", []string{"Programa Anual de Capacitación 2024", "Presentar ante el Comité el 5 de febrero.", "ética pública"}, nil},
	"circular.rtf": {"rtf", []string{"CIRCULAR NÚM. 12/2024", "Dirección de Recursos Humanos que el próximo lunes se suspenderán labores.",
		"Consulte el Portal de Transparencia.", "Concepto Importe", "Viáticos € 1,500.00", "Atentamente, Comité de Ética\nTexto en cirílico: Данные"},
		[]string{"Arial", "HYPERLINK", "Riched20", "Oficialía", "0100090000"}},
	"boletin.html": {"html", []string{"Boletín de la Unidad de Transparencia\nEstimado personal:\nles informamos que el portal estará fuera de servicio el sábado de 8:00 a 12:00 h.",
		"Área Responsable\nArchivo de Concentración Lic. Martín Ibáñez", "Solicitudes & recursos\nCosto: €0 — gratuito",
		"Folio UT/2024/001\nFecha 15/01/2024", "aviso de privacidad\nSi 3 < 5 y 5 > 3, la expresión es verdadera."},
		[]string{"no es texto", "alert", "font-family", "comentario", "OfficeDocumentSettings", "Boletín interno"}},
	"padron.csv": {"csv", []string{"Nombre Cargo Adscripción Sueldo mensual\nPérez Núñez, Ana Lucía Directora de Programación Dirección General; Oficina 3 $45,300.00"}, nil},
	"aviso.txt": {"text", []string{"AVISO DE PRIVACIDAD SIMPLIFICADO\nEl Instituto de Transparencia del Estado tratará sus datos personales con la finalidad de\ndar trámite",
		"solicitud.\nConsulte"}, nil},
	"aviso-latin1.txt": {"text", []string{"Notificación: el trámite de la señora Muñoz concluyó € 0.00"}, nil},
	"minimal.pdf":      {"pdf", []string{"Secretaría de la Función Pública\nConstancia de recepción de documentos\nFolio: SFP-2024-00123\nSe recibió el expediente del señor Raúl Ibáñez."}, nil},
	"flate.pdf": {"pdf", []string{"Dirección General de Archivos\nExpediente: DGA/2024/117\nSeñora Ñúñez: año 2024 — “cumplimiento”",
		"Documento electrónico firmado con e.firma"}, nil},
	"fpdf.pdf": {"pdf", []string{"Comisión Estatal de Derechos Humanos", "artículos 6 y 16 de la Constitución Política",
		"señora Guadalupe\nRíos Peña.", "Expediente CEDH/QJ/0345/2024", "Fecha de emisión 15 de enero de 2024", "Página 2: anexo único — acuse de recibo"}, nil},
	"chromium.pdf": {"pdf", []string{"Tribunal de Justicia Administrativa", "juicio de nulidad 1234/2024", "Comercializadora Añil, S.A. de\nC.V.",
		"Dra. Sofía Ángeles Ruiz."}, nil},
	"protegido-rc4.pdf":     {"pdf", []string{"Dictamen protegido contra modificación.\nÓrgano Interno de Control, expediente OIC/DE/077/2024."}, nil},
	"protegido-aes128.pdf":  {"pdf", []string{"Comisión Estatal de Derechos Humanos", "Página 2: anexo único"}, nil},
	"protegido-aes256.pdf":  {"pdf", []string{"Comisión Estatal de Derechos Humanos", "Página 2: anexo único"}, nil},
	"protegido-usuario.pdf": {"pdf", nil, []string{"Comisión"}},
	"reenvio.eml": {"message", []string{"RV: Solicitud de información núm. UT/2024/117\nLes reenvío la solicitud recibida por el portal. Favor de dar trámite.",
		"Solicitud de información\nSolicito copia de los contratos", "CA-001 Inmobiliaria Montaña S.A. $12,000.00",
		"Secretaría de la Función Pública"}, []string{"versión HTML"}},
}

// fixtureErr is the error expected from a fixture (nil for the others).
var fixtureErr = map[string]error{"protegido-usuario.pdf": ErrUnsupported}

// TestGolden extracts every fixture of testdata and compares with its
// .golden file (kind, flags and text); -update rewrites them.
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, ".golden") {
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			ct, ok := fixtureType[filepath.Ext(name)]
			if !ok {
				t.Fatalf("no MIME type for %s", name)
			}
			fn := name
			if ct == "" {
				fn = ""
			}
			res := Text(context.Background(), data, ct, fn, Limits{})
			got := fmt.Sprintf("kind: %s\ntruncated: %v\nerr: %v\n\n%s\n", res.Kind, res.Truncated, res.Err, res.Text)
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("text differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			checkText(t, res.Text, Limits{}.withDefaults().MaxText)
			w, ok := fixtureWant[name]
			if !ok {
				t.Fatalf("no expectations for %s in fixtureWant", name)
			}
			if res.Kind != w.kind || !errors.Is(res.Err, fixtureErr[name]) || (fixtureErr[name] == nil) != (res.Err == nil) {
				t.Errorf("kind %q err %v, want %q and %v", res.Kind, res.Err, w.kind, fixtureErr[name])
			}
			for _, s := range w.has {
				if !strings.Contains(res.Text, s) {
					t.Errorf("text lacks %q", s)
				}
			}
			for _, s := range w.not {
				if strings.Contains(res.Text, s) {
					t.Errorf("text holds %q", s)
				}
			}
		})
	}
	if seen < len(fixtureWant)-1 { // chromium.pdf may be missing
		t.Errorf("%d fixtures in testdata, want %d", seen, len(fixtureWant))
	}
}

// checkText asserts what Result.Text promises for any input.
func checkText(t testing.TB, s string, maxText int) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("text is not valid UTF-8")
	}
	if len(s) > maxText {
		t.Errorf("text has %d bytes, MaxText %d", len(s), maxText)
	}
	if s != strings.TrimSpace(s) {
		t.Errorf("text has leading or trailing whitespace")
	}
	for _, bad := range []string{"  ", "\n\n", " \n", "\n ", "\t", "\r"} {
		if strings.Contains(s, bad) {
			t.Errorf("text holds unnormalised whitespace %q", bad)
			break
		}
	}
}
