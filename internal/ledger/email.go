package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// EmailPublisher mails each publication to addresses outside the institution (a
// notary's, the órgano interno de control's, a journalist's): the checkpoint in the
// body and as an attachment with its RFC 3161 token. It submits through a
// smarthost over SMTP with STARTTLS (required unless InsecureNoTLS, for tests on
// loopback) and AUTH PLAIN when a username is set.
type EmailPublisher struct {
	Server        string // host:port (587)
	From          string
	To            []string
	Username      string
	Password      string
	TLS           *tls.Config // nil: system roots, ServerName from Server
	InsecureNoTLS bool
	Now           func() time.Time
}

func (e EmailPublisher) String() string { return "email:" + strings.Join(e.To, ",") }

// Publish sends one message with the checkpoint.
func (e EmailPublisher) Publish(ctx context.Context, p Publication) error {
	msg, err := e.message(p)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", e.Server)
	if err != nil {
		return fmt.Errorf("publish by email: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(time.Minute))
	}
	var c *smtp.Client
	if e.InsecureNoTLS {
		c = smtp.NewClient(conn)
	} else {
		cfg := e.TLS
		if cfg == nil {
			host, _, _ := net.SplitHostPort(e.Server)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return fmt.Errorf("publish by email: STARTTLS with %s: %w", e.Server, err)
		}
	}
	defer c.Close()
	if e.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", e.Username, e.Password)); err != nil {
			return fmt.Errorf("publish by email: authenticate: %w", err)
		}
	}
	if err := c.SendMail(e.From, e.To, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("publish by email to %s: %w", strings.Join(e.To, ","), err)
	}
	return c.Quit()
}

func (e EmailPublisher) message(p Publication) ([]byte, error) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "resguardo-" + hex.EncodeToString(rnd[:])
	domain := "resguardo.invalid"
	if i := strings.LastIndex(e.From, "@"); i >= 0 {
		domain = e.From[i+1:]
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", e.From)
	h("To", strings.Join(e.To, ", "))
	h("Date", now().Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<checkpoint-%d-%s@%s>", p.Size, hex.EncodeToString(rnd[:6]), domain))
	h("Subject", fmt.Sprintf("=?UTF-8?Q?Punto_de_control_de_la_bit=C3=A1cora_%s:_%d_entradas?=", strings.ReplaceAll(p.Origin, " ", "_"), p.Size))
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString("Copia publicada de un punto de control firmado de la bitácora de un archivo institucional de\r\n" +
		"correo. Consérvela: permite comprobar después que la bitácora no fue reescrita\r\n" +
		"(resguardo ledger audit).\r\n\r\n")
	b.WriteString(strings.ReplaceAll(string(p.Checkpoint), "\n", "\r\n"))
	part := func(name, ctype string, data []byte) {
		b.WriteString("\r\n--" + boundary + "\r\n")
		fmt.Fprintf(&b, "Content-Type: %s; name=%q\r\nContent-Disposition: attachment; filename=%q\r\nContent-Transfer-Encoding: base64\r\n\r\n", ctype, name, name)
		enc := base64.StdEncoding.EncodeToString(data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	part(fmt.Sprintf("%d.checkpoint", p.Size), "text/plain", p.Checkpoint)
	if p.Token != nil {
		part(fmt.Sprintf("%d.tst", p.Size), "application/timestamp-reply", p.Token)
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes(), nil
}
