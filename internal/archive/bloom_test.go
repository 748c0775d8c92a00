package archive

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

func TestPresence(t *testing.T) {
	t.Parallel()
	p := newPresence(10000)
	for i := 0; i < 10000; i++ {
		s := sha256.Sum256([]byte(fmt.Sprint(i)))
		p.add(&s)
	}
	fp := 0
	for i := 0; i < 20000; i++ {
		in := sha256.Sum256([]byte(fmt.Sprint(i % 10000)))
		if !p.mayHave(&in) {
			t.Fatalf("false negative for %d", i)
		}
		out := sha256.Sum256([]byte(fmt.Sprint("x", i)))
		if p.mayHave(&out) {
			fp++
		}
	}
	if fp > 400 { // 2 %
		t.Fatalf("%d false positives in 20000", fp)
	}
}
