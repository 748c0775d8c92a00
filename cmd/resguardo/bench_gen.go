package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/corpusgen"
	"github.com/resguardo/resguardo/internal/fsutil"
	"github.com/resguardo/resguardo/internal/message"
)

// runBenchGen writes N synthetic institutional messages, one file each, 1,000 per
// directory (for the 1,000,000-message search benchmark; notmuch reads the same tree).
func runBenchGen(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("bench gen", flag.ContinueOnError)
	n := fs.Int("n", 1_000_000, "messages to generate")
	out := fs.String("out", "", "directory to create")
	seed := fs.Uint64("seed", 1, "random seed (output is deterministic)")
	corpus := fs.String("corpus", "", "the shared corpus whose real text is mixed into bodies (default: found upwards; none if absent)")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *n <= 0 {
		return &exitError{code: 2, err: errors.New("usage: resguardo bench gen --n N --out DIR")}
	}
	if err := fsutil.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if *corpus == "" {
		*corpus = findCorpus(m.Getenv("RESGUARDO_CORPUS"))
	}
	real := realText(*corpus, 5000)
	fmt.Fprintf(m.Stderr, "bench gen: %d snippets of real text from %s\n", len(real), *corpus)
	g := corpusgen.New(corpusgen.Options{Seed: *seed, RealText: real})
	start := time.Now()
	for i := 0; i < *n; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sub := filepath.Join(*out, fmt.Sprintf("%04d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("%08d.eml", i)), g.Next(), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "%d messages in %s (%.0f/s)\n", *n, *out, float64(*n)/time.Since(start).Seconds())
	return nil
}

// realText takes up to max snippets of body text (quotes and signatures left out) from
// the plain-text parts of the corpus's mailing-list messages, in a fixed order.
func realText(corpus string, max int) []string {
	var out []string
	if corpus == "" {
		return nil
	}
	for _, list := range []string{"linux-mips", "open-iscsi-googlegroups"} {
		files, _, _ := listInputFiles([]string{filepath.Join(corpus, "real", list)})
		for _, f := range files {
			if len(out) >= max {
				return out
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			msg := message.Parse(raw, message.Limits{})
			for _, p := range msg.Parts {
				if p.ContentType != "text/plain" || p.Attachment {
					continue
				}
				body, err := message.DecodePart(raw, p)
				if err != nil {
					break
				}
				if snip := snippet(message.DecodeText(body, p.Charset)); len(snip) > 80 {
					out = append(out, snip)
				}
				break
			}
		}
	}
	return out
}

// snippet keeps the author's own lines, up to about 600 bytes, with CRLF endings.
func snippet(text string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if line == "-- " || b.Len() > 600 {
			break
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, ">") || strings.HasSuffix(t, "wrote:") || len(t) > 200 {
			continue
		}
		b.WriteString(t + "\r\n")
	}
	return strings.TrimSpace(b.String())
}
