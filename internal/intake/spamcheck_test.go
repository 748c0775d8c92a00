package intake

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/resguardo/resguardo/internal/spam"
)

type fixedSpam struct {
	r   spam.Result
	err error
}

func (f fixedSpam) Score(ctx context.Context, _ []byte, _ spam.Hints) (spam.Result, error) {
	return f.r, f.err
}

func TestSpamCheck(t *testing.T) {
	tests := []struct {
		name  string
		eng   SpamEngine
		codes []string
	}{
		{"below every threshold", SpamEngine{Name: "rspamd", Classifier: fixedSpam{r: spam.Result{Score: 3}}, Tag: 6, Quarantine: 15}, nil},
		{"tag", SpamEngine{Name: "rspamd", Classifier: fixedSpam{r: spam.Result{Score: 7}}, Tag: 6, Quarantine: 15}, []string{CodeSpamTag}},
		{"quarantine", SpamEngine{Name: "rspamd", Classifier: fixedSpam{r: spam.Result{Score: 16}}, Tag: 6, Quarantine: 15}, []string{CodeSpamQuarantine}},
		{"reject", SpamEngine{Name: "sa", Classifier: fixedSpam{r: spam.Result{Score: 30}}, Tag: 5, Quarantine: 10, Reject: 25}, []string{CodeSpamReject}},
		{"reject off", SpamEngine{Name: "sa", Classifier: fixedSpam{r: spam.Result{Score: 30}}, Tag: 5, Quarantine: 10}, []string{CodeSpamQuarantine}},
		{"untrained built-in gives nothing", SpamEngine{Name: "bayes", Classifier: fixedSpam{r: spam.Result{Score: 0.999, Symbols: []string{"BAYES_UNTRAINED"}}}, Tag: 0.9, Quarantine: 0.995}, nil},
		{"engine error: flagged", SpamEngine{Name: "rspamd", Classifier: fixedSpam{err: errors.New("connection refused")}, Tag: 6}, []string{CodeSpamError}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			c := SpamCheck{Engines: []SpamEngine{tc.eng}, Observe: func(e string, _ float64, v string) { seen = append(seen, e+"="+v) }}
			out := c.Run(context.Background(), &Message{Data: []byte("Subject: x\r\n\r\nhola\r\n")})
			var codes []string
			for _, f := range out.Findings {
				codes = append(codes, f.Code)
				if f.Action != SpamCodes[f.Code] {
					t.Errorf("%s: action %s", f.Code, f.Action)
				}
			}
			if len(codes) != len(tc.codes) || (len(codes) == 1 && codes[0] != tc.codes[0]) {
				t.Errorf("codes %v, want %v", codes, tc.codes)
			}
			b, _ := json.Marshal(out.Detail)
			var back []SpamResult
			if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 || back[0].Engine != tc.eng.Name {
				t.Errorf("detail %s: %v", b, err)
			}
			if len(seen) != 1 {
				t.Errorf("observed %v", seen)
			}
		})
	}
}

// TestSpamCheckBuiltin: the real built-in classifier, trained on invented
// Spanish mail, tags a Spanish spam through the check.
func TestSpamCheckBuiltin(t *testing.T) {
	b := spam.NewBayes(spam.BayesOptions{MinHam: 3, MinSpam: 3, MinClues: 2, Threshold: 0.9})
	for i := 0; i < 5; i++ {
		b.Train([]byte("Subject: Oficio de la Dirección de Archivo\r\n\r\nSe remite el oficio para su atención y seguimiento del expediente.\r\n"), false)
		b.Train([]byte("Subject: GANE DINERO YA premio casino\r\n\r\nHaga clic para reclamar su premio de casino gratis, oferta exclusiva.\r\n"), true)
	}
	c := SpamCheck{Engines: []SpamEngine{{Name: "bayes", Classifier: b, Tag: 0.8, Quarantine: 0.999}}}
	out := c.Run(context.Background(), &Message{Data: []byte("Subject: premio casino gratis\r\n\r\nReclame su premio de casino, oferta exclusiva.\r\n")})
	if len(out.Findings) != 1 || (out.Findings[0].Code != CodeSpamTag && out.Findings[0].Code != CodeSpamQuarantine) {
		t.Fatalf("spam: %+v", out.Findings)
	}
	out = c.Run(context.Background(), &Message{Data: []byte("Subject: Oficio de seguimiento\r\n\r\nSe remite el expediente para su atención.\r\n")})
	if len(out.Findings) != 0 {
		t.Fatalf("ham flagged: %+v", out.Findings)
	}
}
