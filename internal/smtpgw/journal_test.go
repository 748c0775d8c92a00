package smtpgw

import (
	"bytes"
	"errors"
	"net/netip"
	"net/smtp"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const journalAddr = "archivo.journal@" + testDomain

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "journal", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJournalReport(t *testing.T) {
	t.Parallel()
	d := "@" + testDomain
	test := func(name string, want *JournalReport) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep, err := ParseJournalReport(readFixture(t, name+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			orig := readFixture(t, name+".original.eml")
			if !bytes.Equal(rep.Original, orig) {
				t.Errorf("original differs:\n%q\nwant\n%q", rep.Original, orig)
			}
			rep.Original = nil
			if !reflect.DeepEqual(rep, want) {
				t.Errorf("got  %+v\nwant %+v", rep, want)
			}
		})
	}
	test("exchange-envelope", &JournalReport{
		Sender:    "ana.lopez" + d,
		Subject:   "Oficio SF/DJ/0142/2024 — respuesta a solicitud",
		MessageID: "<8f3a2c1e.0142" + d + ">",
		Recipients: []JournalRecipient{
			{Address: "juan.perez" + d, Field: "To"},
			{Address: "rocio.martinez" + d, Field: "Cc", Expanded: "direccion.juridica" + d},
			{Address: "pablo.ruiz" + d, Field: "Cc", Expanded: "direccion.juridica" + d},
			{Address: "contralor.interno" + d, Field: "Bcc"},
			{Address: "lucia.gomez@correo-externo.mx", Field: "To", Forwarded: "juan.perez" + d},
		},
	})
	test("exchange-online-base64", &JournalReport{
		Sender:     "oficialia.partes@cdmx.gob.mx",
		OnBehalfOf: "titular.unidad@cdmx.gob.mx",
		Subject:    "Turno de correspondencia 2024-0087",
		MessageID:  "<turno-2024-0087@cdmx.gob.mx>",
		Recipients: []JournalRecipient{
			{Address: "enlace.transparencia@cdmx.gob.mx", Field: "Recipient"},
			{Address: "enlace.archivo@cdmx.gob.mx", Field: "Recipient", Forwarded: "archivo.general@cdmx.gob.mx"},
			{Address: "auditoria@cdmx.gob.mx", Field: "Bcc"},
		},
	})
	t.Run("not a report", func(t *testing.T) {
		t.Parallel()
		_, err := ParseJournalReport(readFixture(t, "postfix-bcc.eml"))
		if !errors.Is(err, ErrNotJournalReport) {
			t.Errorf("err %v, want ErrNotJournalReport", err)
		}
		if IsJournalReport(readFixture(t, "postfix-bcc.eml")) {
			t.Error("IsJournalReport on a plain message")
		}
	})
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		data := readFixture(t, "malformed-no-original.eml")
		_, err := ParseJournalReport(data)
		if !errors.Is(err, ErrMalformedJournalReport) || !IsJournalReport(data) {
			t.Errorf("err %v, want ErrMalformedJournalReport", err)
		}
	})
}

func journalConfig() Config {
	c := DefaultConfig(ChannelJournal)
	c.Hostname = "archivo." + testDomain
	c.JournalAddresses = []string{journalAddr}
	c.AllowedClients = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	c.ReadTimeout = 5 * time.Second
	return c
}

func TestJournalListener(t *testing.T) {
	t.Parallel()
	exch := "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@" + testDomain

	t.Run("exchange report unwrapped with Bcc", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, journalConfig(), Options{})
		report := readFixture(t, "exchange-envelope.eml")
		if err := smtp.SendMail(ts.addr, nil, exch, []string{journalAddr}, report); err != nil {
			t.Fatal(err)
		}
		ds := ts.d.deliveries()
		if len(ds) != 1 {
			t.Fatalf("%d deliveries", len(ds))
		}
		d := ds[0]
		if !bytes.Equal(d.data, readFixture(t, "exchange-envelope.original.eml")) {
			t.Errorf("delivered bytes are not the original:\n%q", d.data)
		}
		want := []string{"juan.perez@" + testDomain, "rocio.martinez@" + testDomain, "pablo.ruiz@" + testDomain,
			"contralor.interno@" + testDomain, "lucia.gomez@correo-externo.mx"}
		if !reflect.DeepEqual(d.env.Recipients, want) {
			t.Errorf("recipients %v\nwant %v", d.env.Recipients, want)
		}
		j := d.env.Journal
		if d.env.MailFrom != "ana.lopez@"+testDomain || j == nil || j.Report == nil || j.MailFrom != exch ||
			!reflect.DeepEqual(j.Recipients, []string{journalAddr}) || !bytes.Equal(j.ReportBytes, report) {
			t.Errorf("envelope %+v journal %+v", d.env, j)
		}
	})
	t.Run("plain bcc kept as received", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, journalConfig(), Options{})
		msg := readFixture(t, "postfix-bcc.eml")
		if err := smtp.SendMail(ts.addr, nil, "carlos.ramirez@proveedor-ejemplo.mx", []string{journalAddr}, msg); err != nil {
			t.Fatal(err)
		}
		d := ts.d.deliveries()[0]
		if !bytes.Equal(d.data, msg) || !reflect.DeepEqual(d.env.Recipients, []string{journalAddr}) ||
			d.env.Journal == nil || d.env.Journal.Report != nil {
			t.Errorf("delivery %+v", d.env)
		}
	})
	t.Run("bcc mode does not unwrap", func(t *testing.T) {
		t.Parallel()
		cfg := journalConfig()
		cfg.JournalMode = JournalBCC
		ts := startServer(t, cfg, Options{})
		report := readFixture(t, "exchange-envelope.eml")
		if err := smtp.SendMail(ts.addr, nil, exch, []string{journalAddr}, report); err != nil {
			t.Fatal(err)
		}
		if d := ts.d.deliveries()[0]; !bytes.Equal(d.data, report) || d.env.Journal.Report != nil {
			t.Errorf("report unwrapped in bcc mode")
		}
	})
	t.Run("malformed report kept and flagged", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, journalConfig(), Options{})
		bad := readFixture(t, "malformed-no-original.eml")
		if err := smtp.SendMail(ts.addr, nil, exch, []string{journalAddr}, bad); err != nil {
			t.Fatal(err)
		}
		if d := ts.d.deliveries()[0]; !bytes.Equal(d.data, bad) || !d.env.Flags.Has(FlagJournalMalformed) {
			t.Errorf("flags %b", d.env.Flags)
		}
	})
	t.Run("only the journal address", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, journalConfig(), Options{})
		c := dialRaw(t, ts.addr)
		c.greet()
		c.cmd("MAIL FROM:<"+exch+">", "250 ")
		c.cmd("RCPT TO:<juan.perez@"+testDomain+">", "550 5.7.1 ")
		c.cmd("RCPT TO:<"+strings.ToUpper(journalAddr)+">", "250 ")
	})
	t.Run("client not allowed", func(t *testing.T) {
		t.Parallel()
		cfg := journalConfig()
		cfg.AllowedClients = []netip.Prefix{netip.MustParsePrefix("10.20.1.0/24")}
		ts := startServer(t, cfg, Options{})
		c := dialRaw(t, ts.addr)
		c.expect("554 5.7.1 ")
	})
}
