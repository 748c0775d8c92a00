package intake

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/mailauth"
	"github.com/resguardo/resguardo/internal/smtpgw"
)

// fakeArchive answers every item with status (or err at Add).
type fakeArchive struct {
	mu     sync.Mutex
	items  []*archive.Item
	addErr error
	status archive.Status
	never  bool // never answer
}

func (f *fakeArchive) Add(_ context.Context, it *archive.Item) error {
	if f.addErr != nil {
		return f.addErr
	}
	f.mu.Lock()
	f.items = append(f.items, it)
	f.mu.Unlock()
	if !f.never {
		res := archive.Result{Status: f.status, SHA256: "00"}
		if f.status == archive.Failed {
			res.Err = errors.New("disk full")
		}
		it.Done <- res
	}
	return nil
}

type fixedCheck struct {
	name string
	out  Outcome
	pan  bool
}

func (c fixedCheck) Name() string { return c.name }
func (c fixedCheck) Run(context.Context, *Message) Outcome {
	if c.pan {
		panic("boom")
	}
	return c.out
}

func env(ch smtpgw.Channel) smtpgw.Envelope {
	return smtpgw.Envelope{Channel: ch, Listener: string(ch), SessionID: "s1", ClientAddr: netip.MustParseAddrPort("192.0.2.7:40000"),
		HELO: "mail.example.org", MailFrom: "a@example.org", Recipients: []string{"b@sefin.gob.mx"}, Received: time.Now(),
		TLS: &smtpgw.TLSInfo{Version: 0x0304, CipherSuite: 0x1301}}
}

func pipeline(t *testing.T, fa *fakeArchive, checks ...Check) *Pipeline {
	t.Helper()
	p, err := New(Options{Archive: fa, Checks: checks, AuthServID: "mx.sefin.gob.mx"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func storedEnvelope(t *testing.T, fa *fakeArchive) Envelope {
	t.Helper()
	if len(fa.items) != 1 {
		t.Fatalf("%d items archived, want 1", len(fa.items))
	}
	var e Envelope
	if err := json.Unmarshal([]byte(fa.items[0].Envelope), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDeliverAccepts(t *testing.T) {
	for _, st := range []archive.Status{archive.Archived, archive.Duplicate} {
		fa := &fakeArchive{status: st}
		p := pipeline(t, fa, fixedCheck{name: "auth", out: Outcome{Detail: mailauth.Result{SPF: mailauth.SPFResult{Result: "pass"}}}})
		if r := p.Deliver(context.Background(), env(smtpgw.ChannelMX), []byte("Subject: x\r\n\r\nhola\r\n")); r.Code != 250 {
			t.Fatalf("%v: %+v", st, r)
		}
		e := storedEnvelope(t, fa)
		if e.Verdict.Action != ActionAccept || e.ClientIP != "192.0.2.7" || e.TLS.Version != "TLS 1.3" || e.Channel != "mx" ||
			len(e.Checks) != 1 || e.AuthenticationResults == "" || fa.items[0].Channel != "mx" {
			t.Errorf("envelope: %+v", e)
		}
	}
}

func TestDeliverArchiveFailures(t *testing.T) {
	for name, fa := range map[string]*fakeArchive{
		"result failed": {status: archive.Failed},
		"add refused":   {addErr: archive.ErrStopped},
		"no answer":     {never: true},
	} {
		p := pipeline(t, fa)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		r := p.Deliver(ctx, env(smtpgw.ChannelMX), []byte("Subject: x\r\n\r\n"))
		cancel()
		if r.Code != 451 || r.Enhanced != [3]int{4, 3, 0} {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

func TestVerdicts(t *testing.T) {
	reject := fixedCheck{name: "auth", out: Outcome{Findings: []Finding{{Code: CodeDMARCReject, Action: ActionReject}}}}
	quar := fixedCheck{name: "av", out: Outcome{Findings: []Finding{{Code: "virus", Action: ActionQuarantine, Text: "Eicar"}}}}
	tag := fixedCheck{name: "spam", out: Outcome{Findings: []Finding{{Code: "spam", Action: ActionTag}}}}
	broken := fixedCheck{name: "broken", out: Outcome{Err: errors.New("engine down")}}
	panics := fixedCheck{name: "panics", pan: true}

	cases := []struct {
		name    string
		ch      smtpgw.Channel
		checks  []Check
		policy  *Policy
		code    int
		action  Action
		tagged  bool
		archive bool
	}{
		{"reject on mx", smtpgw.ChannelMX, []Check{reject, tag}, nil, 550, ActionReject, true, false},
		{"journal only marks", smtpgw.ChannelJournal, []Check{reject}, nil, 250, ActionAccept, true, true},
		{"quarantine archived", smtpgw.ChannelMX, []Check{quar, tag}, nil, 250, ActionQuarantine, true, true},
		{"tag", smtpgw.ChannelMX, []Check{tag}, nil, 250, ActionAccept, true, true},
		{"check error tempfails", smtpgw.ChannelMX, []Check{broken}, nil, 451, ActionTempFail, false, false},
		{"panic tempfails", smtpgw.ChannelMX, []Check{panics}, nil, 451, ActionTempFail, false, false},
		{"override", smtpgw.ChannelMX, []Check{reject}, &Policy{Actions: map[string]Action{CodeDMARCReject: ActionQuarantine}}, 250, ActionQuarantine, false, true},
		{"skip", smtpgw.ChannelMX, []Check{reject}, &Policy{Skip: []string{"auth"}}, 250, ActionAccept, false, true},
		{"submission skips auth", smtpgw.ChannelSubmission, []Check{reject}, nil, 250, ActionAccept, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fa := &fakeArchive{}
			o := Options{Archive: fa, Checks: c.checks}
			if c.policy != nil {
				o.Policies = map[smtpgw.Channel]Policy{c.ch: *c.policy}
			}
			p, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Deliver(context.Background(), env(c.ch), []byte("Subject: x\r\n\r\n"))
			if r.Code != c.code {
				t.Errorf("reply %+v, want %d", r, c.code)
			}
			if (len(fa.items) == 1) != c.archive {
				t.Fatalf("archived %d items, want archived=%v", len(fa.items), c.archive)
			}
			v, _, _ := p.Evaluate(context.Background(), &Message{Env: env(c.ch)})
			if v.Action != c.action || v.Tagged != c.tagged {
				t.Errorf("verdict %+v, want %s tagged=%v", v, c.action, c.tagged)
			}
			if c.archive {
				if e := storedEnvelope(t, fa); e.Verdict.Action != c.action {
					t.Errorf("stored verdict %+v", e.Verdict)
				}
			}
		})
	}
}

func TestAuthFindings(t *testing.T) {
	r := mailauth.Result{DMARC: mailauth.DMARCResult{Result: "fail", Disposition: "reject", FromDomain: "banco.mx"},
		SPF: mailauth.SPFResult{Result: "fail"}, DNSBL: []mailauth.DNSBLResult{{Zone: "bl.example", Subject: "192.0.2.7", Listed: true}}}
	fs := AuthFindings(r)
	codes := map[string]Action{}
	for _, f := range fs {
		codes[f.Code] = f.Action
	}
	if codes[CodeDMARCReject] != ActionReject || codes[CodeSPFFail] != ActionTag || codes[CodeDNSBL] != ActionReject {
		t.Errorf("findings %+v", fs)
	}
	r.List = mailauth.ListResult{Verdict: mailauth.ListAllow, Entry: "192.0.2.0/24"}
	if fs := AuthFindings(r); len(fs) != 0 {
		t.Errorf("allow list: %+v", fs)
	}
	r.List = mailauth.ListResult{Verdict: mailauth.ListBlock, Entry: "@banco.mx", Matched: "from"}
	if fs := AuthFindings(r); len(fs) != 1 || fs[0].Code != CodeBlockList {
		t.Errorf("block list: %+v", fs)
	}
	for c, a := range AuthCodes {
		if !a.Valid() || c == "" {
			t.Errorf("code %q action %q", c, a)
		}
	}
}

func TestUsers(t *testing.T) {
	h, err := HashPassword("s3creto")
	if err != nil {
		t.Fatal(err)
	}
	us, err := NewUsers([]User{{Name: "Ana.Lopez", PasswordHash: h, AllowedFrom: []string{"ana@sefin.gob.mx"}}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := us.Authenticate(context.Background(), "ana.lopez", "s3creto")
	if err != nil || id.User != "Ana.Lopez" || len(id.AllowedFrom) != 1 {
		t.Fatalf("%+v %v", id, err)
	}
	for _, c := range [][2]string{{"ana.lopez", "otra"}, {"nadie", "s3creto"}} {
		if _, err := us.Authenticate(context.Background(), c[0], c[1]); !errors.Is(err, smtpgw.ErrInvalidCredentials) {
			t.Errorf("%v: %v", c, err)
		}
	}
	if _, err := NewUsers([]User{{Name: "x", PasswordHash: "plano"}}); err == nil {
		t.Error("a plain password was accepted as a hash")
	}
}
