package main

import (
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/spam/spamtest"
)

// writeTrainingSet writes n invented institutional messages and n invented
// spams, each one file, for `resguardo spam train`.
func writeTrainingSet(t *testing.T, dir string, n int) (ham, sp string) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(7, 9))
	hamWords := strings.Fields("oficio expediente atención seguimiento dirección archivo solicitud información transparencia " +
		"acuerdo reunión comité presupuesto ejercicio fiscal circular licitación contrato revisión minuta anexo " +
		"dictamen unidad administrativa coordinación lineamientos informe trimestral auditoría resguardo")
	spamWords := strings.Fields("premio casino gratis oferta exclusiva ganador dinero rápido clic aquí bitcoin inversión " +
		"garantizada préstamo aprobado descuento pastillas adelgazar lotería felicidades reclame urgente millones")
	gen := func(words []string, subjectPrefix string, i int) string {
		var b strings.Builder
		for j := 0; j < 40; j++ {
			b.WriteString(words[rng.IntN(len(words))] + " ")
		}
		return fmt.Sprintf("From: remitente%d@ejemplo%d.mx\r\nTo: juan.perez@%s\r\nSubject: %s %d %s\r\nMessage-ID: <%d.%s@ejemplo.mx>\r\n\r\n%s\r\n",
			i, i%7, gwDomain, subjectPrefix, i, words[rng.IntN(len(words))], i, subjectPrefix[:3], b.String())
	}
	ham, sp = filepath.Join(dir, "ham"), filepath.Join(dir, "spam")
	os.MkdirAll(ham, 0o755)
	os.MkdirAll(sp, 0o755)
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(ham, fmt.Sprintf("%04d.eml", i)), []byte(gen(hamWords, "Oficio SF", i)), 0o644)
		os.WriteFile(filepath.Join(sp, fmt.Sprintf("%04d.eml", i)), []byte(gen(spamWords, "GANE YA", i)), 0o644)
	}
	return ham, sp
}

// TestGatewayAntispam: the built-in classifier, trained with `spam train`, and a
// real SpamAssassin spamd score every message on the MX listener; spam is
// quarantined with each engine's score in the record, legitimate mail passes,
// "no es spam" feedback teaches the model, and /metrics counts the verdicts.
func TestGatewayAntispam(t *testing.T) {
	t.Parallel()
	spamd := spamtest.StartSpamd(t)
	hamDir, spamDir := writeTrainingSet(t, t.TempDir(), 220)
	g := startGatewayServeOpts(t, gwOpts{
		extra: fmt.Sprintf("\n[gateway.antispam]\ntag = 0.9\nquarantine = 0.995\n[[gateway.antispam.engines]]\nname = \"spamassassin\"\ntype = \"spamd\"\naddress = %q\ntag = 5\nquarantine = 10\n", spamd),
		before: func(data string) []string {
			mustCLI(t, "init", "--data", data)
			out := mustCLI(t, "spam", "train", "--ham", hamDir, "--spam", spamDir, "--json", "--data", data)
			var st spamStatus
			if err := json.Unmarshal([]byte(out), &st); err != nil || st.Ham != 220 || st.Spam != 220 || !st.Trained {
				t.Fatalf("spam train: %v %s", err, out)
			}
			return nil
		},
	})
	send := func(subject, body string) gwShow {
		t.Helper()
		msg := gwMessage("oficialia@remitente.mx", "juan.perez@"+gwDomain, subject, body)
		if r := sendSMTP(g.mx, "mail.remitente.mx", "oficialia@remitente.mx", []string{"juan.perez@" + gwDomain}, msg); r != "" {
			t.Fatalf("%s: %s", subject, r)
		}
		s, ok := showRecord(t, g.data, shaHex(msg))
		if !ok {
			t.Fatalf("%s not archived", subject)
		}
		return s
	}
	results := func(s gwShow) map[string]intake.SpamResult {
		out := map[string]intake.SpamResult{}
		for _, c := range s.Receptions[0].Envelope.Checks {
			if c.Name == intake.SpamCheckName {
				var rs []intake.SpamResult
				json.Unmarshal(c.Detail, &rs)
				for _, r := range rs {
					out[r.Engine] = r
				}
			}
		}
		return out
	}

	spamMsg := send("GANE YA premio casino", "Felicidades ganador: reclame su premio de casino gratis, dinero rápido, clic aquí, oferta exclusiva garantizada.")
	r := results(spamMsg)
	if spamMsg.Receptions[0].Envelope.Verdict.Action != intake.ActionQuarantine || r["bayes"].Action != intake.ActionQuarantine || r["bayes"].Score < 0.995 {
		t.Fatalf("spam: verdict %+v, results %+v", spamMsg.Receptions[0].Envelope.Verdict, r)
	}
	gtube := send("Prueba GTUBE", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
	r = results(gtube)
	if gtube.Receptions[0].Envelope.Verdict.Action != intake.ActionQuarantine || r["spamassassin"].Action != intake.ActionQuarantine ||
		r["spamassassin"].Score < 100 || !r["spamassassin"].Spam {
		t.Fatalf("GTUBE: verdict %+v, results %+v", gtube.Receptions[0].Envelope.Verdict, r)
	}
	ham := send("Oficio SF/0412/2026 seguimiento", "Se remite el expediente para su atención y seguimiento, conforme al acuerdo del comité de transparencia.")
	r = results(ham)
	if v := ham.Receptions[0].Envelope.Verdict; v.Action != intake.ActionAccept || r["bayes"].Action != "" || r["spamassassin"].Action != "" ||
		r["spamassassin"].Error != "" {
		t.Fatalf("ham: verdict %+v, results %+v", v, r)
	}

	// "No es spam": the model learns it.
	mustCLI(t, "quarantine", "ham", gtube.ID, "--data", g.data)
	var st spamStatus
	json.Unmarshal([]byte(mustCLI(t, "spam", "status", "--json", "--data", g.data)), &st)
	if st.Ham != 221 || st.Spam != 220 {
		t.Errorf("after feedback: %+v", st)
	}

	resp, err := http.Get("http://" + g.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`resguardo_spam_verdicts_total{engine="bayes",verdict="spam"} 1`,
		`resguardo_spam_verdicts_total{engine="spamassassin",verdict="spam"} 1`, `resguardo_spam_score_count{engine="bayes"} 3`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
