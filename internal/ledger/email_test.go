package ledger

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/message"
)

// sink is a go-smtp server session that keeps what it receives.
type sink struct {
	mu   *sync.Mutex
	got  *[]received
	from string
	to   []string
}

type received struct {
	from string
	to   []string
	data []byte
}

func (s *sink) Reset()        {}
func (s *sink) Logout() error { return nil }
func (s *sink) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *sink) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sink) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.mu.Lock()
	*s.got = append(*s.got, received{s.from, s.to, b})
	s.mu.Unlock()
	return err
}

// TestEmailPublisher sends a publication to a real SMTP server (emersion/go-smtp)
// on loopback and checks the message: parseable, the checkpoint in the body and as
// an attachment, the token attached byte-exact.
func TestEmailPublisher(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []received
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sink{mu: &mu, got: &got}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	s, _ := newKeys(t, "finanzas.ejemplo.gob.mx/resguardo")
	cp, _ := SignCheckpoint(Checkpoint{Origin: "finanzas.ejemplo.gob.mx/resguardo", Size: 42}, s)
	token := []byte{0x30, 0x82, 0x01, 0x00, 0xff, 0x00}
	e := EmailPublisher{Server: ln.Addr().String(), From: "resguardo@finanzas.ejemplo.gob.mx",
		To: []string{"oic@finanzas.ejemplo.gob.mx", "testigo@otra.ejemplo.gob.mx"}, InsecureNoTLS: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Publish(ctx, Publication{Origin: "finanzas.ejemplo.gob.mx/resguardo", Size: 42, Checkpoint: cp, Token: token}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || len(got[0].to) != 2 || got[0].from != e.From {
		t.Fatalf("received %+v", got)
	}
	raw := got[0].data
	m := message.Parse(raw, message.Limits{})
	if m.Malformed() || !strings.Contains(m.Subject, "bitácora") || !strings.Contains(m.Subject, "42 entradas") {
		t.Fatalf("message: subject %q defects %v", m.Subject, m.Defects)
	}
	var att [][]byte
	for _, p := range m.Attachments() {
		b, err := message.DecodePart(raw, p)
		if err != nil {
			t.Fatal(err)
		}
		att = append(att, b)
	}
	if len(att) != 2 || !bytes.Equal(att[0], cp) || !bytes.Equal(att[1], token) {
		t.Fatalf("attachments %q", att)
	}
	// STARTTLS is required by default: a server without it is refused.
	e.InsecureNoTLS = false
	if err := e.Publish(ctx, Publication{Origin: "x", Size: 1, Checkpoint: cp}); err == nil {
		t.Fatal("published without TLS")
	}
}
