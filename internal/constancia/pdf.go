package constancia

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// pdfMeta is the part of the metadata document the PDF shows.
type pdfMeta struct {
	MessageID string `json:"message_id"`
	Date      string `json:"date"`
	DateRaw   string `json:"date_raw"`
	Subject   string `json:"subject"`
	Channel   string `json:"channel"`
	From      []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"from"`
	To, Cc []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	}
	Attachments []struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
	} `json:"attachments"`
	Malformed bool `json:"malformed"`
}

// PDF renders the constancia for people, in Spanish: what the record is, its
// fingerprint, its place in the ledger, the timestamp, how to verify, and a QR code
// with the verification URL. The JSON and .p7s remain the evidence; the PDF explains
// them.
func PDF(c *Constancia, tz *time.Location) ([]byte, error) {
	if tz == nil {
		tz = time.UTC
	}
	var m pdfMeta
	if err := json.Unmarshal([]byte(c.Record.Metadata), &m); err != nil {
		return nil, fmt.Errorf("constancia pdf: metadata: %w", err)
	}
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCompression(true)
	pdf.SetTitle("Constancia "+c.Record.SHA256[:16], true)
	pdf.SetAuthor(c.Issuer.Name, true)
	pdf.SetCreator("Resguardo", true)
	if t, err := time.Parse(time.RFC3339, c.IssuedAt); err == nil {
		pdf.SetCreationDate(t)
		pdf.SetModificationDate(t)
	}
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: every Spanish letter
	pdf.SetMargins(18, 16, 18)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AddPage()
	pdf.SetFillColor(97, 18, 50)
	pdf.Rect(0, 0, 216, 12, "F")
	pdf.SetFont("Helvetica", "B", 15)
	pdf.SetTextColor(29, 36, 51)
	pdf.Ln(2)
	title := "Constancia de integridad y fecha de un mensaje de correo electrónico"
	if c.Delivery != nil {
		title = "Constancia de entrega de un mensaje de correo electrónico"
	}
	pdf.MultiCell(0, 7, tr(title), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	pdf.SetTextColor(91, 100, 117)
	pdf.MultiCell(0, 5, tr(fmt.Sprintf("Emitida por %s · %s · formato %s", c.Issuer.Name, c.IssuedAt, c.Format)), "", "L", false)
	pdf.Ln(2)

	if c.VerifyURL != "" {
		url := c.VerifyURL + "?id=" + c.Record.SHA256
		if png, err := qrcode.Encode(url, qrcode.Medium, 256); err == nil {
			pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
			pdf.ImageOptions("qr", 166, 30, 32, 32, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		}
	}
	section := func(title string) {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 11)
		pdf.SetTextColor(97, 18, 50)
		pdf.MultiCell(0, 6, tr(title), "", "L", false)
		pdf.SetTextColor(29, 36, 51)
	}
	row := func(label, value string) {
		pdf.SetFont("Helvetica", "B", 9)
		x := pdf.GetX()
		pdf.CellFormat(38, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.SetX(x + 38)
		pdf.MultiCell(105, 5, tr(value), "", "L", false)
	}
	mono := func(s string) {
		pdf.SetFont("Courier", "", 8)
		pdf.MultiCell(0, 4, s, "", "L", false)
	}

	section("Declaración")
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(140, 4.6, tr(c.StatementES), "", "L", false)

	section("El mensaje")
	row("De", addrs(m.From))
	row("Para", addrs(m.To))
	if len(m.Cc) > 0 {
		row("Copia", addrs(m.Cc))
	}
	row("Asunto", m.Subject)
	date := m.DateRaw
	if t, err := time.Parse(time.RFC3339, m.Date); err == nil {
		date = t.In(tz).Format("2006-01-02 15:04:05 MST") + "  (" + m.DateRaw + ")"
	}
	row("Fecha del mensaje", date)
	row("Message-ID", m.MessageID)
	row("Tamaño", fmt.Sprintf("%d bytes", c.Record.Size))
	row("Recibido por", m.Channel)
	if m.Malformed {
		row("Estructura", "el mensaje tiene defectos de formato; se conserva byte por byte tal como llegó")
	}
	pdf.Ln(1)
	pdf.SetFont("Helvetica", "B", 9)
	pdf.MultiCell(0, 5, tr("Huella digital SHA-256 del mensaje (identifica sus bytes exactos):"), "", "L", false)
	mono(c.Record.SHA256)
	if len(m.Attachments) > 0 {
		section("Archivos adjuntos")
		for _, a := range m.Attachments {
			name := a.Filename
			if name == "" {
				name = "(sin nombre)"
			}
			pdf.SetFont("Helvetica", "", 9)
			pdf.MultiCell(0, 5, tr(fmt.Sprintf("%s · %s · %d bytes", name, a.ContentType, a.Size)), "", "L", false)
			mono("SHA-256 " + a.SHA256)
		}
	}

	for i, ar := range c.Arrivals {
		if i == 0 {
			section("Recepción y revisiones")
		}
		at := ar.ReceivedAt
		if t, err := time.Parse(time.RFC3339Nano, ar.ReceivedAt); err == nil {
			at = t.In(tz).Format("2006-01-02 15:04:05 MST")
		}
		row("Recibido", fmt.Sprintf("%s por %s", at, channelName(ar.Channel)))
		if ar.ClientIP != "" {
			row("Cliente", strings.TrimSpace(ar.HELO+" ["+ar.ClientIP+"]"))
		}
		if ar.TLS != "" {
			row("Conexión", ar.TLS)
		}
		if ar.MailFrom != "" || len(ar.RcptTo) > 0 {
			row("Sobre", ar.MailFrom+" → "+strings.Join(ar.RcptTo, ", "))
		}
		if ar.SPF != "" {
			row("SPF / DMARC", ar.SPF+" / "+ar.DMARC)
		}
		if len(ar.DKIM) > 0 {
			row("DKIM", strings.Join(ar.DKIM, "; "))
		}
		for _, v := range ar.Antivirus {
			text := map[string]string{"clean": "limpio", "infected": "DETECTADO", "error": "sin respuesta"}[v.Verdict]
			if v.Threat != "" {
				text += ": " + v.Threat
			}
			if v.Version != "" {
				text += " (" + v.Version + ")"
			}
			row("Antivirus "+v.Engine, text)
		}
		for _, v := range ar.Antispam {
			text := map[string]string{"ham": "legítimo", "spam": "SPAM", "error": "sin respuesta"}[v.Verdict]
			if v.Score != nil {
				text += fmt.Sprintf(" (puntuación %.3f)", *v.Score)
			}
			row("Antispam "+v.Engine, text)
		}
		if ar.Verdict != "" {
			row("Dictamen", map[string]string{"accept": "aceptado", "quarantine": "en cuarentena"}[ar.Verdict])
		}
	}
	if d := c.Delivery; d != nil {
		var det struct {
			Time       string   `json:"time"`
			Route      string   `json:"route"`
			MailFrom   string   `json:"mail_from"`
			Recipients []string `json:"recipients"`
			RemoteHost string   `json:"remote_host"`
			RemoteIP   string   `json:"remote_ip"`
			RemotePort int      `json:"remote_port"`
			Reply      string   `json:"reply"`
			SentSHA256 string   `json:"sent_sha256"`
			TLS        *struct {
				Version    string `json:"version"`
				Cipher     string `json:"cipher"`
				CertSHA256 string `json:"cert_sha256"`
				Verified   bool   `json:"verified"`
			} `json:"tls"`
		}
		_ = json.Unmarshal([]byte(d.Detail), &det)
		section("La entrega")
		if t, err := time.Parse(time.RFC3339Nano, det.Time); err == nil {
			row("Aceptado el", t.In(tz).Format("2006-01-02 15:04:05 MST")+" ("+t.UTC().Format(time.RFC3339)+")")
		}
		row("Servidor", fmt.Sprintf("%s [%s]:%d", det.RemoteHost, det.RemoteIP, det.RemotePort))
		row("Remitente (sobre)", det.MailFrom)
		row("Destinatarios", strings.Join(det.Recipients, ", "))
		tlsText := "sin cifrado (el servidor no ofreció STARTTLS)"
		if t := det.TLS; t != nil {
			tlsText = t.Version + ", " + t.Cipher
			if t.Verified {
				tlsText += ", certificado verificado"
			} else {
				tlsText += ", certificado no verificado"
			}
		}
		row("Conexión", tlsText)
		row("Respuesta del servidor", det.Reply)
		row("Entrada de entrega", fmt.Sprintf("%d", d.Index))
		if det.TLS != nil && det.TLS.CertSHA256 != "" {
			pdf.SetFont("Helvetica", "B", 9)
			pdf.MultiCell(0, 5, tr("Huella SHA-256 del certificado del servidor:"), "", "L", false)
			mono(det.TLS.CertSHA256)
		}
	}

	section("Bitácora y sello de tiempo")
	row("Bitácora", c.Ledger.Origin)
	row("Entrada", fmt.Sprintf("%d", c.Ledger.Index))
	if p, err := parseProofCheckpoint(c.Ledger.Proof); err == nil {
		row("Punto de control", p)
	}
	if t, err := time.Parse(time.RFC3339Nano, c.Timestamp.Time); err == nil {
		row("Fecha y hora cierta", t.In(tz).Format("2006-01-02 15:04:05 MST")+" ("+t.UTC().Format(time.RFC3339)+")")
	}
	row("Sello emitido por", c.Timestamp.Authority)
	row("Tipo de sello", map[string]string{"rfc3161": "RFC 3161", "nom151": "Constancia NOM-151-SCFI-2016"}[c.Timestamp.Kind])

	section("Cómo verificarla, sin depender de la institución")
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(0, 4.6, tr("Conserve el mensaje (.eml), constancia.json y constancia.p7s. Con Resguardo, sin red ni base de datos:"), "", "L", false)
	mono("resguardo verify mensaje.eml constancia.json --p7s constancia.p7s \\\n  --log-key CLAVE_PUBLICA_DE_LA_BITACORA --tsa-ca ca-tsa.pem --ca ca-institucion.pem")
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(0, 4.6, tr("Con OpenSSL, la firma de la constancia y el sello de tiempo:"), "", "L", false)
	mono("openssl cms -verify -binary -inform DER -in constancia.p7s -content constancia.json \\\n  -CAfile ca-institucion.pem -out /dev/null\nopenssl ts -verify -digest <digest_sha256> -in sello.tsr -token_in -CAfile ca-tsa.pem")
	if c.VerifyURL != "" {
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 4.6, tr("O en la página pública de verificación (código QR): "+c.VerifyURL), "", "L", false)
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "I", 8)
	pdf.SetTextColor(91, 100, 117)
	pdf.MultiCell(0, 4, tr("Esta constancia acredita hechos técnicos verificables: la integridad del mensaje desde la fecha del sello, "+
		"la fecha cierta que consta en él y los datos de origen registrados al recibirlo. No califica el contenido del mensaje "+
		"ni determina su valor probatorio, que corresponde a la autoridad que la valore."), "", "J", false)
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("constancia pdf: %w", err)
	}
	return out.Bytes(), nil
}

func addrs(list []struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}) string {
	var s []string
	for _, a := range list {
		if a.Name != "" {
			s = append(s, a.Name+" <"+a.Address+">")
		} else {
			s = append(s, a.Address)
		}
	}
	if len(s) == 0 {
		return "—"
	}
	return strings.Join(s, ", ")
}

// parseProofCheckpoint summarises the checkpoint of a tlog-proof for people.
func parseProofCheckpoint(proof string) (string, error) {
	_, cp, ok := strings.Cut(proof, "\n\n")
	if !ok {
		return "", fmt.Errorf("no checkpoint")
	}
	lines := strings.SplitN(cp, "\n", 4)
	if len(lines) < 3 {
		return "", fmt.Errorf("short checkpoint")
	}
	return fmt.Sprintf("árbol de %s entradas, raíz %s", lines[1], lines[2]), nil
}

func channelName(ch string) string {
	if n, ok := map[string]string{"mx": "la pasarela MX (correo entrante)", "submission": "envío autenticado",
		"journal": "copia de diario (journaling)", "import": "importación", "dsn": "aviso de no entrega"}[ch]; ok {
		return n
	}
	return ch
}
