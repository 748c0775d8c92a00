package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/intake"
)

// DSN actions (RFC 3464 §2.3.3) the relay reports.
const (
	actionFailed  = "failed"  // the final failure of entries
	actionDelayed = "delayed" // a warning: entries are still being retried
)

// buildDSN writes the delivery status notification (RFC 3464, multipart/report
// of RFC 6522) for entries of one sender, and its envelope: from the null
// reverse-path to the sender. action is actionFailed (the entries failed) or
// actionDelayed (they are still deferred: a warning with Will-Retry-Until).
// The human part is in Spanish, then English; the original's header section
// is attached (text/rfc822-headers).
func (r *Relay) buildDSN(action string, entries []catalog.Outbound, reason map[int64]string, original []byte, now time.Time) ([]byte, *intake.Envelope) {
	sender := entries[0].MailFrom
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	boundary := "=_resguardo_dsn_" + id
	hdrEnd := bytes.Index(original, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		hdrEnd = len(original)
	} else {
		hdrEnd += 2
	}
	subject := "=?UTF-8?Q?Mensaje_no_entregado_/_Undelivered_Mail?="
	if action == actionDelayed {
		subject = "Aviso de retraso en la entrega / Delivery delayed"
	}
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...); b.WriteString("\r\n") }
	w("From: Sistema de correo <MAILER-DAEMON@%s>", r.c.Hostname)
	w("To: <%s>", sender)
	w("Subject: %s", subject)
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <dsn.%s@%s>", id, r.c.Hostname)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=UTF-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	var text strings.Builder
	fmt.Fprintf(&text, "Este es el sistema de correo de %s.\r\n\r\n", r.c.Hostname)
	if action == actionDelayed {
		until := r.retryUntil(entries[0]).Format(humanTime)
		text.WriteString("Su mensaje aún no ha sido entregado a los siguientes destinatarios:\r\n\r\n")
		for _, o := range entries {
			fmt.Fprintf(&text, "  <%s>: %s\r\n", o.Rcpt, reason[o.ID])
		}
		fmt.Fprintf(&text, "\r\nNo necesita hacer nada: se seguirá intentando hasta el %s.\r\n", until)
		text.WriteString("Si para entonces no se ha entregado, recibirá otro aviso.\r\n\r\n")
		text.WriteString("This is the mail system at " + r.c.Hostname + ". Your message has not been delivered yet\r\n")
		text.WriteString("to the recipients above; the reasons are given next to each one. No action is\r\n")
		fmt.Fprintf(&text, "needed: delivery will be retried until %s. If it still fails, you\r\n", until)
		text.WriteString("will get another notice.\r\n")
	} else {
		text.WriteString("Su mensaje no pudo entregarse a los siguientes destinatarios:\r\n\r\n")
		for _, o := range entries {
			fmt.Fprintf(&text, "  <%s>: %s\r\n", o.Rcpt, reason[o.ID])
		}
		text.WriteString("\r\nEl mensaje quedó resguardado en el archivo institucional.\r\n\r\n")
		text.WriteString("This is the mail system at " + r.c.Hostname + ". Your message could not be delivered\r\n")
		text.WriteString("to the recipients above; the reasons are given next to each one.\r\n")
	}
	var qp bytes.Buffer
	qw := quotedprintable.NewWriter(&qp)
	qw.Write([]byte(text.String()))
	qw.Close()
	b.Write(bytes.ReplaceAll(bytes.ReplaceAll(qp.Bytes(), []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", r.c.Hostname)
	w("Arrival-Date: %s", entries[0].CreatedAt.Format(time.RFC1123Z))
	w("")
	for i, o := range entries {
		if i > 0 {
			w("")
		}
		w("Final-Recipient: rfc822; %s", o.Rcpt)
		w("Action: %s", action)
		w("Status: %s", statusOf(action, reason[o.ID]))
		if o.Route == RouteMX || o.Route == RouteSmarthost || o.Route == RouteNextHop {
			if host := remoteOf(reason[o.ID]); host != "" {
				w("Remote-MTA: dns; %s", host)
			}
		}
		w("Diagnostic-Code: smtp; %s", oneLine(reason[o.ID]))
		if !o.LastAttempt.IsZero() {
			w("Last-Attempt-Date: %s", o.LastAttempt.Format(time.RFC1123Z))
		}
		if action == actionDelayed {
			w("Will-Retry-Until: %s", r.retryUntil(o).Format(time.RFC1123Z))
		}
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	b.Write(original[:hdrEnd])
	w("")
	w("--%s--", boundary)
	env := &intake.Envelope{Format: intake.EnvelopeFormat, Channel: ChannelDSN, Session: "dsn-" + id, MailFrom: "",
		RcptTo: []string{sender}, ReceivedAt: now, Verdict: intake.Verdict{Action: intake.ActionAccept}, Checks: []intake.CheckRecord{}}
	return b.Bytes(), env
}

// humanTime is how the DSN's text gives a time (the fields use RFC 5322's).
const humanTime = "2006-01-02 15:04 MST"

// retryUntil is when an entry stops being retried: it fails after MaxAge in
// the queue.
func (r *Relay) retryUntil(o catalog.Outbound) time.Time {
	return o.CreatedAt.Add(r.c.MaxAge).UTC()
}

func dsnEnvelopeJSON(e *intake.Envelope) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// statusOf finds the enhanced status code in a reason ("5.1.1 …", "host: RCPT:
// 550 5.1.1 …") and gives it the class of action: 5 for a failure (4.x.x codes
// of expired entries become 4.4.7), 4 for a delay; 5.0.0 or 4.0.0 without one.
func statusOf(action, reason string) string {
	class := "5"
	if action == actionDelayed {
		class = "4"
	}
	for _, f := range strings.Fields(reason) {
		if len(f) >= 5 && (f[0] == '4' || f[0] == '5') && f[1] == '.' && strings.Count(f, ".") == 2 {
			if action == actionFailed && strings.HasPrefix(reason, "4.4.7") {
				return "4.4.7"
			}
			return class + f[1:]
		}
	}
	return class + ".0.0"
}

func remoteOf(reason string) string {
	if i := strings.Index(reason, ": "); i > 0 && !strings.ContainsAny(reason[:i], " ") {
		return reason[:i]
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
