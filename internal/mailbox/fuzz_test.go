package mailbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// FuzzMbox feeds arbitrary bytes to the mbox reader in every format, checking that
// it does not panic and that its items account for every input byte; then it uses
// the bytes as messages (separated by NUL), writes them as mboxrd and checks that
// reading them back returns them unchanged.
func FuzzMbox(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.mbox"))
	if dir := corpustest.Find(); dir != "" {
		for _, p := range []string{
			"torture/sisimai-bounces/mailbox/mbox-0",
			"torture/sisimai-bounces/mailbox/mbox-1",
			"torture/spamassassin-t-data/nice.mbox",
			"torture/mimekit/mbox/issue1189.mbox.txt",
			"torture/mimekit/mbox/simple.mbox.txt",
			"torture/mimekit/mbox/unmunged.mbox.txt",
		} {
			seeds = append(seeds, filepath.Join(dir, filepath.FromSlash(p)))
		}
	}
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "\xef\xbb\xbf", "From a 10:00\n", "From -\nFrom -\n",
		"From a\nContent-Length: 3\n\nabcFrom b\n",
		"From a\nContent-Length: 0\n\n\n",
		"From a\n>From b\n\x00From c 10:00\n\x00\x00>>From d\r\n",
		"basura\nFrom a 1:00\nS: x\r\n\r\n",
		// Found by fuzzing: a quoted header line after the message became too large.
		strings.Repeat("0", 66) + "\n>From 0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{MboxAuto, MboxRD, MboxO, MboxCL2} {
			for _, limit := range []int64{0, 64} {
				checkInvariants(t, data, Options{MboxFormat: format, MaxMessageSize: limit})
			}
		}
		sniff(data, true, true)

		msgs := bytes.Split(data, []byte{0})
		if len(msgs) > 64 {
			msgs = msgs[:64]
		}
		var mbox bytes.Buffer
		if err := writeMboxrd(&mbox, msgs); err != nil {
			t.Fatal(err)
		}
		formats := []string{MboxRD}
		if !bytes.Contains(bytes.ToLower(data), []byte("content-length")) {
			formats = append(formats, MboxAuto)
		}
		for _, format := range formats {
			items := readAll(t, mbox.Bytes(), "rt", Options{MboxFormat: format})
			if len(items) != len(msgs) {
				t.Fatalf("%s: %d messages written, %d read", format, len(msgs), len(items))
			}
			for i, it := range items {
				if want := mboxrdNormal(msgs[i]); it.Err != nil || !bytes.Equal(it.Data, want) {
					t.Fatalf("%s: message %d: got %q (%v), want %q", format, i, it.Data, it.Err, want)
				}
			}
		}
	})
}

// checkInvariants reads data as an mbox and checks what holds for any input.
func checkInvariants(t *testing.T, data []byte, opt Options) {
	t.Helper()
	r, err := NewMboxReader(bytes.NewReader(data), "f", opt)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i := 0; ; i++ {
		it, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: Next: %v", opt.MboxFormat, err)
		}
		off := sourceOffset(t, it.Source)
		if i > 0 && off != sum {
			t.Fatalf("%s: item %d at offset %d, previous items consumed %d", opt.MboxFormat, i, off, sum)
		}
		if i > 0 && !bytes.HasPrefix(data[off:], []byte("From ")) {
			t.Fatalf("%s: item %d at offset %d is not at a From_ line", opt.MboxFormat, i, off)
		}
		if it.Input <= 0 {
			t.Fatalf("%s: item %d consumed %d bytes", opt.MboxFormat, i, it.Input)
		}
		sum += it.Input
		switch {
		case it.Err != nil:
			if it.Data != nil || !errors.Is(it.Err, ErrEmpty) && !errors.Is(it.Err, ErrTooLarge) {
				t.Fatalf("%s: item %d: %v with %d bytes", opt.MboxFormat, i, it.Err, len(it.Data))
			}
		case len(it.Data) == 0:
			t.Fatalf("%s: item %d: no data and no error", opt.MboxFormat, i)
		case opt.MaxMessageSize > 0 && int64(len(it.Data)) > opt.MaxMessageSize:
			t.Fatalf("%s: item %d: %d bytes over the limit", opt.MboxFormat, i, len(it.Data))
		}
	}
	if sum == 0 {
		if rest := bytes.TrimPrefix(data, []byte(bom)); !isBlank(rest) {
			t.Fatalf("%s: no items from %q", opt.MboxFormat, strings.TrimSpace(string(rest)))
		}
	} else if sum != int64(len(data)) {
		t.Fatalf("%s: items consumed %d of %d bytes", opt.MboxFormat, sum, len(data))
	}
}
