package webapp

import (
	"errors"
	"testing"
)

func TestQueryText(t *testing.T) {
	f := form{Q: "a OR b", From: "juan@x.mx", To: "Lucía Sánchez", Since: "2024-01-01", Until: "2024-12-31", Attach: true, Words: "contrato -borrador"}
	got, err := f.queryText()
	want := `(a OR b) from:juan@x.mx to:"Lucía Sánchez" date:2024-01-01..2024-12-31 has:attachment contrato borrador`
	if err != nil || got != want {
		t.Fatalf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := (form{Since: "ayer"}).queryText(); !errors.Is(err, errDate) {
		t.Fatal("a bad date must be refused")
	}
}
