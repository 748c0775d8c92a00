// Package corpusgen generates synthetic but realistic institutional mail for scale
// benchmarks: Spanish messages between invented public servants and suppliers of
// invented institutions, over several years, in conversation threads, with a mix of
// attachments (CSV, plain text, small PDFs), and with bodies that mix Spanish
// boilerplate and text taken from real messages of the shared corpus. Output is
// deterministic for a seed. All people and organisations are invented.
package corpusgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	givenNames = []string{"María", "José", "Juan", "Guadalupe", "Francisco", "Fernanda", "Luis", "Ana", "Carlos", "Rosa",
		"Jorge", "Patricia", "Miguel", "Alejandra", "Ricardo", "Lucía", "Héctor", "Sofía", "Arturo", "Verónica", "Raúl", "Daniela"}
	surnames = []string{"Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez", "Cruz",
		"Flores", "Gómez", "Morales", "Vázquez", "Jiménez", "Reyes", "Díaz", "Torres", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar"}
	institutions = []string{"finanzas.ejemplo.gob.mx", "salud.ejemplo.gob.mx", "educacion.ejemplo.gob.mx", "obras.ejemplo.gob.mx",
		"transparencia.ejemplo.gob.mx", "contraloria.ejemplo.gob.mx", "movilidad.ejemplo.gob.mx", "agua.ejemplo.gob.mx"}
	suppliers = []string{"constructora-del-valle.com.mx", "papeleria-central.com.mx", "sistemas-integrales.mx", "consultores-asociados.com.mx",
		"laboratorios-norte.com.mx", "transportes-del-golfo.com.mx"}
	topics = []string{"licitación pública %s", "contrato de obra %s", "solicitud de acceso a la información %s", "oficio %s",
		"informe trimestral %s", "requerimiento de auditoría %s", "convenio de colaboración %s", "expediente %s",
		"transferencia primaria %s", "adquisición de equipo de cómputo %s", "mantenimiento de vehículos %s", "pago a proveedores %s"}
	sentences = []string{
		"Por este conducto me permito informarle que el expediente se encuentra en revisión.",
		"Se adjunta la documentación soporte para su análisis y comentarios.",
		"Quedo atento a sus observaciones a la brevedad posible.",
		"Le solicito amablemente remitir la información antes del cierre del trimestre.",
		"Conforme a lo acordado en la sesión del comité, se envía el acta firmada.",
		"La dirección jurídica emitió su opinión favorable respecto del convenio.",
		"Se informa que el proveedor entregó las facturas correspondientes.",
		"Favor de confirmar la recepción del presente oficio.",
		"El área requirente validó las especificaciones técnicas del anexo.",
		"Se turna para su atención y seguimiento en términos de la normatividad aplicable.",
	}
)

// Options configures a generator.
type Options struct {
	Seed  uint64
	Start time.Time // first date (default 2019-01-01)
	Years int       // span (default 6)
	// RealText are snippets of real mail to mix into bodies (may be empty).
	RealText []string
}

// Generator produces messages one at a time.
type Generator struct {
	opt     Options
	rng     *rand.Rand
	n       int
	threads []thread
}

type thread struct {
	subject string
	ids     []string
	people  [2]person
}

type person struct{ name, addr string }

// New returns a generator.
func New(opt Options) *Generator {
	if opt.Start.IsZero() {
		opt.Start = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opt.Years <= 0 {
		opt.Years = 6
	}
	return &Generator{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, 0x5eed))}
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *Generator) person() person {
	given, sur1, sur2 := g.pick(givenNames), g.pick(surnames), g.pick(surnames)
	dom := g.pick(institutions)
	if g.rng.IntN(5) == 0 {
		dom = g.pick(suppliers)
	}
	local := strings.ToLower(ascii(given[:1] + sur1 + "." + sur2))
	return person{name: given + " " + sur1 + " " + sur2, addr: local + "@" + dom}
}

func ascii(s string) string {
	r := strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "Á", "A", "É", "E", "Í", "I", "Ó", "O", "Ú", "U")
	return r.Replace(s)
}

// Next returns the next message.
func (g *Generator) Next() []byte {
	g.n++
	span := time.Duration(g.opt.Years) * 365 * 24 * time.Hour
	date := g.opt.Start.Add(time.Duration(float64(span) * float64(g.n%100000) / 100000)).Add(time.Duration(g.rng.IntN(3600)) * time.Second)
	var t *thread
	reply := len(g.threads) > 0 && g.rng.IntN(3) == 0
	if reply {
		t = &g.threads[g.rng.IntN(len(g.threads))]
	} else {
		folio := fmt.Sprintf("%s-%03d/%d", []string{"SF", "DJ", "UT", "OIC", "DA"}[g.rng.IntN(5)], g.rng.IntN(999), date.Year())
		nt := thread{subject: fmt.Sprintf(g.pick(topics), folio), people: [2]person{g.person(), g.person()}}
		if len(g.threads) < 5000 {
			g.threads = append(g.threads, nt)
			t = &g.threads[len(g.threads)-1]
		} else {
			i := g.rng.IntN(len(g.threads))
			g.threads[i] = nt
			t = &g.threads[i]
		}
	}
	from, to := t.people[0], t.people[1]
	if len(t.ids)%2 == 1 {
		from, to = to, from
	}
	msgID := fmt.Sprintf("%d.%x@%s", g.n, g.rng.Uint64(), strings.SplitN(from.addr, "@", 2)[1])
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("Message-ID", "<"+msgID+">")
	h("Date", date.In(time.FixedZone("CST", -6*3600)).Format(time.RFC1123Z))
	h("From", encWord(from.name)+" <"+from.addr+">")
	h("To", encWord(to.name)+" <"+to.addr+">")
	if g.rng.IntN(3) == 0 {
		c := g.person()
		h("Cc", encWord(c.name)+" <"+c.addr+">")
	}
	subject := t.subject
	if len(t.ids) > 0 {
		subject = "RE: " + subject
		h("In-Reply-To", "<"+t.ids[len(t.ids)-1]+">")
		refs := t.ids
		if len(refs) > 8 {
			refs = refs[len(refs)-8:]
		}
		h("References", "<"+strings.Join(refs, "> <")+">")
	}
	h("Subject", encWord(subject))
	h("MIME-Version", "1.0")
	t.ids = append(t.ids, msgID)
	body := g.body(from)
	att := g.rng.IntN(10)
	if att >= 7 {
		boundary := fmt.Sprintf("=_b%x", g.rng.Uint64())
		h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
		b.WriteString("\r\n--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(body)
		name, ctype, data := g.attachment(subject)
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, ctype, name, name)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	} else {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "8bit")
		b.WriteString("\r\n" + body)
	}
	return b.Bytes()
}

func (g *Generator) body(from person) string {
	var s strings.Builder
	s.WriteString("Estimado(a):\r\n\r\n")
	for i := 0; i < 2+g.rng.IntN(4); i++ {
		s.WriteString(g.pick(sentences) + " ")
	}
	if len(g.opt.RealText) > 0 && g.rng.IntN(2) == 0 {
		s.WriteString("\r\n\r\n" + g.opt.RealText[g.rng.IntN(len(g.opt.RealText))])
	}
	s.WriteString("\r\n\r\nAtentamente,\r\n" + from.name + "\r\n")
	return s.String()
}

func (g *Generator) attachment(subject string) (name, ctype string, data []byte) {
	switch g.rng.IntN(3) {
	case 0:
		var c strings.Builder
		c.WriteString("partida,descripcion,monto\r\n")
		for i := 0; i < 5+g.rng.IntN(20); i++ {
			fmt.Fprintf(&c, "%d,%s,%d.%02d\r\n", i+1, g.pick([]string{"papelería", "equipo de cómputo", "mantenimiento", "consultoría", "viáticos"}), g.rng.IntN(90000), g.rng.IntN(100))
		}
		return "anexo.csv", "text/csv", []byte(c.String())
	case 1:
		return "acta.txt", "text/plain", []byte("ACTA DE SESIÓN\r\n" + subject + "\r\n" + g.pick(sentences) + "\r\n")
	}
	text := strings.NewReplacer("(", "", ")", "", "\\", "").Replace(ascii(subject))
	stream := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	pdf := fmt.Sprintf("%%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"+
		"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"+
		"4 0 obj<</Length %d>>stream\n%s\nendstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"+
		"trailer<</Root 1 0 R>>\n%%%%EOF\n", len(stream), stream)
	return "oficio.pdf", "application/pdf", []byte(pdf)
}

func encWord(s string) string {
	for _, r := range s {
		if r > 127 {
			return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
		}
	}
	return s
}
