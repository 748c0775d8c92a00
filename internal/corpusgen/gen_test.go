package corpusgen

import (
	"bytes"
	"testing"

	"github.com/resguardo/resguardo/internal/message"
)

func TestGeneratedMailIsWellFormed(t *testing.T) {
	t.Parallel()
	g := New(Options{Seed: 1, RealText: []string{"real text from a list"}})
	threads := 0
	for i := 0; i < 2000; i++ {
		raw := g.Next()
		m := message.Parse(raw, message.Limits{})
		if m.Malformed() || m.MessageID == "" || len(m.From) != 1 || m.Date.IsZero() {
			t.Fatalf("message %d malformed: %v\n%s", i, m.Defects, raw)
		}
		if len(m.InReplyTo) > 0 {
			threads++
		}
	}
	if threads < 300 {
		t.Fatalf("only %d replies in 2000 messages", threads)
	}
	a, b := New(Options{Seed: 7}), New(Options{Seed: 7})
	for i := 0; i < 50; i++ {
		if !bytes.Equal(a.Next(), b.Next()) {
			t.Fatal("not deterministic")
		}
	}
}
