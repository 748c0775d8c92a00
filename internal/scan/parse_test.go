package scan

import "testing"

// FuzzParseClamd: any answer gives a verdict or an error, never a clean verdict
// for an answer that does not say OK.
func FuzzParseClamd(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR", "stream: OK FOUND", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ans string) {
		r, err := parseClamd(ans, "")
		if err == nil && r.Verdict == Clean && ans != "stream: OK" {
			t.Fatalf("%q read as clean", ans)
		}
		if err == nil && r.Verdict == Infected && r.Threat == "" && ans != "stream:  FOUND" {
			t.Fatalf("%q: infected without a name", ans)
		}
	})
}
