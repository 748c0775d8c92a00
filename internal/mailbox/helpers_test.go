package mailbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// writeMboxrd writes msgs as an mboxrd file (the mboxrd proposal; RFC 4155 section
// 2): a From_ line, the message with every line matching ^>*From  quoted with one
// more '>', a newline if the message lacks one, and an empty line.
func writeMboxrd(w io.Writer, msgs [][]byte) error {
	for i, m := range msgs {
		if _, err := fmt.Fprintf(w, "From remitente%d@sep.gob.mx Mon Jan  6 09:15:%02d 2025\n", i, i%60); err != nil {
			return err
		}
		for len(m) > 0 {
			line := m
			if j := bytes.IndexByte(m, '\n'); j >= 0 {
				line = m[:j+1]
			}
			m = m[len(line):]
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				if _, err := w.Write([]byte(">")); err != nil {
					return err
				}
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		end := "\n" // the empty separator line
		if len(msgs[i]) == 0 || msgs[i][len(msgs[i])-1] != '\n' {
			end = "\n\n"
		}
		if _, err := io.WriteString(w, end); err != nil {
			return err
		}
	}
	return nil
}

// mboxrdNormal is what a message looks like after a trip through an mboxrd file:
// the format always ends a message with a newline.
func mboxrdNormal(m []byte) []byte {
	if !bytes.HasSuffix(m, []byte("\n")) {
		return append(bytes.Clone(m), '\n')
	}
	return m
}

// readAll reads every item of an mbox held in data.
func readAll(t testing.TB, data []byte, name string, opt Options) []Item {
	t.Helper()
	return readAllNamed(t, bytes.NewReader(data), name, opt)
}

// readAllFrom reads every item of the mbox in r.
func readAllFrom(t testing.TB, r io.Reader, opt Options) []Item {
	t.Helper()
	return readAllNamed(t, r, "m", opt)
}

func readAllNamed(t testing.TB, in io.Reader, name string, opt Options) []Item {
	t.Helper()
	r, err := NewMboxReader(in, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for {
		it, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return items
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		items = append(items, it)
	}
}

// scanAll runs Scan and returns the items and skips.
func scanAll(t testing.TB, paths []string, opt Options) ([]Item, []Skip) {
	t.Helper()
	var items []Item
	var skips []Skip
	opt.OnSkip = func(s Skip) { skips = append(skips, s) }
	err := Scan(context.Background(), paths, opt, func(it Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return items, skips
}

// render prints items for golden files: a header per item, then its data verbatim.
func render(items []Item, size int) []byte {
	var b bytes.Buffer
	var total int64
	for i, it := range items {
		total += it.Input
		fmt.Fprintf(&b, "=== item %d\nsource: %s\nformat: %s\ninput: %d\n", i+1, it.Source, it.Format, it.Input)
		if it.Err != nil {
			fmt.Fprintf(&b, "err: %v\n", it.Err)
			continue
		}
		fmt.Fprintf(&b, "data: %d bytes\n", len(it.Data))
		b.Write(it.Data)
		b.WriteString("\n=== end of data\n")
	}
	fmt.Fprintf(&b, "=== %d items, input %d of %d bytes\n", len(items), total, size)
	return b.Bytes()
}

// writeFile creates path (and its directories) holding data.
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
