package message

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// BenchmarkParse parses a sample of the real mail in the corpus (every 4th
// message of the unpacked real sets); one op is the whole sample, and msgs/s
// is reported alongside.
func BenchmarkParse(b *testing.B) {
	corpus := corpustest.Dir(b)
	for _, set := range []string{"real/linux-mips/sample", "real/open-iscsi-googlegroups", "real/osst-users-spam"} {
		files := corpusFiles(b, corpus, set)
		var msgs [][]byte
		var total int64
		for i, rel := range files {
			if i%4 != 0 {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(corpus, rel))
			if err != nil {
				b.Fatal(err)
			}
			msgs = append(msgs, raw)
			total += int64(len(raw))
		}
		b.Run(filepath.Base(set), func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for _, raw := range msgs {
					Parse(raw, Limits{})
				}
			}
			b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(total)/float64(len(msgs)), "bytes/msg")
		})
	}
}
