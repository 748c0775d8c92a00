package scan_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/scan"
)

// BenchmarkScanMessage is one message (a body and a 64 KB PDF attachment: two
// parts) through ScanMessage with 1, 4 and 16 engines of two kinds:
//
//   - wait: each part takes 2 ms of waiting, as an engine on its own CPU or host
//     does. Time per op should stay near one engine's, whatever the count: the
//     orchestration's own cost shows as the difference.
//   - cpu: each part costs hashing its bytes 20 times on this process's CPUs,
//     as engines sharing the gateway's cores do. Time per op grows with the
//     engines once they outnumber the cores.
func BenchmarkScanMessage(b *testing.B) {
	pdf := make([]byte, 64<<10)
	for i := range pdf {
		pdf[i] = byte(i * 7)
	}
	msg := mixed(attachment("application/pdf", "oficio.pdf", "base64", b64(pdf)))
	kinds := map[string]func(context.Context, []byte) (scan.Result, error){
		"wait": func(ctx context.Context, _ []byte) (scan.Result, error) {
			select {
			case <-time.After(2 * time.Millisecond):
			case <-ctx.Done():
				return scan.Result{}, ctx.Err()
			}
			return scan.Result{Verdict: scan.Clean}, nil
		},
		"cpu": func(_ context.Context, data []byte) (scan.Result, error) {
			for range 20 {
				sha256.Sum256(data)
			}
			return scan.Result{Verdict: scan.Clean}, nil
		},
	}
	for _, kind := range []string{"wait", "cpu"} {
		for _, n := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/engines=%d", kind, n), func(b *testing.B) {
				s := &scan.Scanner{}
				for i := range n {
					s.Engines = append(s.Engines, newStub(fmt.Sprintf("e%02d", i), kinds[kind]))
				}
				ctx := context.Background()
				for b.Loop() {
					for _, r := range s.ScanMessage(ctx, msg) {
						if r.Verdict != scan.Clean {
							b.Fatalf("%s: %s %s", r.Engine, r.Verdict, r.Detail)
						}
					}
				}
			})
		}
	}
}
