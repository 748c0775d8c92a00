package mailbox

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestMboxGolden splits the handwritten fixtures in every format and compares with
// testdata/NAME.FORMAT.golden (go test -update rewrites them).
func TestMboxGolden(t *testing.T) {
	tests := []struct {
		file    string
		formats []string
	}{
		{"mboxrd.mbox", []string{MboxAuto, MboxRD, MboxO}},
		{"mboxo.mbox", []string{MboxAuto, MboxO}},
		{"mboxcl2.mbox", []string{MboxAuto, MboxCL2, MboxRD}},
		{"crlf.mbox", []string{MboxAuto}},
		{"preamble.mbox", []string{MboxAuto}},
		{"bom.mbox", []string{MboxAuto, MboxO}},
		{"empty-messages.mbox", []string{MboxAuto}},
	}
	for _, tc := range tests {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range tc.formats {
			t.Run(tc.file+"/"+format, func(t *testing.T) {
				got := render(readAll(t, data, tc.file, Options{MboxFormat: format}), len(data))
				golden := filepath.Join("testdata", strings.TrimSuffix(tc.file, ".mbox")+"."+format+".golden")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("mismatch with %s (go test -update to rewrite); got:\n%s", golden, got)
				}
			})
		}
	}
}

// TestMboxCases checks the framing rules on small inputs, one rule per case.
func TestMboxCases(t *testing.T) {
	const from1 = "From a@sep.gob.mx Mon Jan  6 09:15:02 2025\n"
	const from2 = "From b@sep.gob.mx Mon Jan  6 09:16:02 2025\n"
	tests := []struct {
		name   string
		format string
		in     string
		want   []string // Data of each item; "ERR:" prefix = errors.Is(Err, ErrEmpty)
	}{
		{"empty input", MboxAuto, "", nil},
		{"blank input", MboxAuto, "\n\r\n \n", nil},
		{"one message, no separator line", MboxAuto, from1 + "S: x\n\nhola\n", []string{"S: x\n\nhola\n"}},
		{"one trailing empty line removed", MboxAuto, from1 + "S: x\n\nhola\n\n\n" + from2 + "S: y\n", []string{"S: x\n\nhola\n\n", "S: y\n"}},
		{"CRLF separator removed", MboxAuto, from1 + "S: x\r\n\r\nhola\r\n\r\n" + from2 + "S: y\r\n", []string{"S: x\r\n\r\nhola\r\n", "S: y\r\n"}},
		{"no final newline", MboxAuto, from1 + "S: x\n\nhola", []string{"S: x\n\nhola"}},
		{"From_ line at EOF", MboxAuto, from1 + "S: x\n\n" + strings.TrimSuffix(from2, "\n"), []string{"S: x\n", "ERR:"}},
		{"separator without blank line", MboxAuto, from1 + "S: x\n" + from2 + "S: y\n", []string{"S: x\n", "S: y\n"}},
		{"mboxrd unquotes every level", MboxRD, from1 + "\n>From a\n>>From b\n>>>From c\n>From\n> From d\n", []string{"\nFrom a\n>From b\n>>From c\n>From\n> From d\n"}},
		{"mboxo unquotes one level", MboxO, from1 + "\n>From a\n>>From b\n", []string{"\nFrom a\n>>From b\n"}},
		{"mboxcl2 unquotes nothing", MboxCL2, from1 + "\n>From a\n>>From b\n", []string{"\n>From a\n>>From b\n"}},
		{"auto unquotes header block too", MboxAuto, from1 + ">From a\nS: x\n", []string{"From a\nS: x\n"}},
		{"body From_ line splits", MboxAuto, from1 + "S: x\n\ntexto\n" + from2 + "mas\n", []string{"S: x\n\ntexto\n", "mas\n"}},
		{"prose From line does not split in auto", MboxAuto, from1 + "S: x\n\nFrom here on, no.\n", []string{"S: x\n\nFrom here on, no.\n"}},
		{"prose From line splits in mboxo", MboxO, from1 + "S: x\n\nFrom here on, no.\n", []string{"S: x\n", "ERR:"}},
		{"Netscape From - line", MboxAuto, "From - \nS: x\n\nFrom -\nS: y\n", []string{"S: x\n", "S: y\n"}},
		{"bare CR in From_ line", MboxAuto, from1 + "S: x\n\nFrom a 10:00\rZ\n", []string{"S: x\n\nFrom a 10:00\rZ\n"}},
		{"garbage before first From_", MboxAuto, "basura\n\n" + from1 + "S: x\n", []string{"basura\n", "S: x\n"}},
		{"BOM and blank lines dropped", MboxAuto, "\xef\xbb\xbf\n \n" + from1 + "S: x\n", []string{"S: x\n"}},
		{"BOM alone", MboxAuto, "\xef\xbb\xbf", nil},
		{"Content-Length frames body", MboxAuto, from1 + "Content-Length: " + strconv.Itoa(len(from2)+8) + "\n\n" + from2 + ">From x\n\n" + from2 + "S: y\n", []string{"Content-Length: " + strconv.Itoa(len(from2)+8) + "\n\n" + from2 + ">From x\n", "S: y\n"}},
		{"Content-Length at EOF", MboxCL2, from1 + "Content-Length: 3\n\nabc", []string{"Content-Length: 3\n\nabc"}},
		{"Content-Length without newline before From_", MboxCL2, from1 + "Content-Length: 3\n\nabc" + from2 + "S: y\n", []string{"Content-Length: 3\n\nabc", "S: y\n"}},
		{"Content-Length zero", MboxCL2, from1 + "Content-Length: 0\n\n\n" + from2 + "S: y\n", []string{"Content-Length: 0\n\n", "S: y\n"}},
		{"Content-Length keeps trailing blank lines", MboxCL2, from1 + "Content-Length: 3\n\nx\n\n\n" + from2, []string{"Content-Length: 3\n\nx\n\n", "ERR:"}},
		{"wrong Content-Length ignored", MboxAuto, from1 + "Content-Length: 2\n\nabc\n\n" + from2 + "S: y\n", []string{"Content-Length: 2\n\nabc\n", "S: y\n"}},
		{"Content-Length past EOF ignored", MboxCL2, from1 + "Content-Length: 50\n\nabc\n", []string{"Content-Length: 50\n\nabc\n"}},
		{"two Content-Length ignored", MboxCL2, from1 + "Content-Length: 3\nContent-Length: 3\n\nabc\n", []string{"Content-Length: 3\nContent-Length: 3\n\nabc\n"}},
		{"Content-Length ignored by mboxrd", MboxRD, from1 + "Content-Length: 21\n\n" + from2 + "S: y\n", []string{"Content-Length: 21\n", "S: y\n"}},
		{"Content-Length in body ignored", MboxAuto, from1 + "S: x\n\nContent-Length: 0\n\n" + from2, []string{"S: x\n\nContent-Length: 0\n", "ERR:"}},
		{"auto keeps header quote when framed", MboxAuto, from1 + ">From q\nContent-Length: 2\n\nz\n", []string{">From q\nContent-Length: 2\n\nz\n"}},
		{"consecutive From_ lines", MboxAuto, from1 + from2 + "S: y\n", []string{"ERR:", "S: y\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items := readAll(t, []byte(tc.in), "t", Options{MboxFormat: tc.format})
			var got []string
			var input int64
			for _, it := range items {
				input += it.Input
				switch {
				case errors.Is(it.Err, ErrEmpty):
					got = append(got, "ERR:")
				case it.Err != nil:
					t.Fatalf("unexpected error %v", it.Err)
				default:
					got = append(got, string(it.Data))
				}
			}
			if strings.Join(got, "\x00|") != strings.Join(tc.want, "\x00|") || len(got) != len(tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			if len(items) > 0 && input != int64(len(tc.in)) {
				t.Errorf("input %d, want %d", input, len(tc.in))
			}
		})
	}
}

// TestMboxOversize: a message over MaxMessageSize is an Item with ErrTooLarge and
// the reader resynchronises at the next From_ line (or skips a confirmed
// Content-Length).
func TestMboxOversize(t *testing.T) {
	big := strings.Repeat("línea de relleno para exceder el límite\n", 20)
	const from = "From a@sep.gob.mx Mon Jan  6 09:15:02 2025\n"
	tests := []struct {
		name, format, in string
		want             []string // "" = ErrTooLarge
	}{
		{"line framing", MboxAuto, from + "S: 1\n\n" + big + "\n" + from + "S: 2\n\nok\n", []string{"", "S: 2\n\nok\n"}},
		{"long single line", MboxAuto, from + "S: 1\n\n" + strings.Repeat("x", 5000) + "\n" + from + "S: 2\n", []string{"", "S: 2\n"}},
		{"content-length framing", MboxCL2, from + "Content-Length: " + strconv.Itoa(len(big)+len(from)) + "\n\n" + big + from + "\n" + from + "S: 2\n", []string{"", "S: 2\n"}},
		{"header too large", MboxAuto, from + strings.Repeat("X-Relleno: 1234567890\n", 30) + "\nok\n" + from + "S: 2\n", []string{"", "S: 2\n"}},
		{"exactly at the limit", MboxAuto, from + strings.Repeat("y", 199) + "\n\n" + from + "S: 2\n", []string{strings.Repeat("y", 199) + "\n", "S: 2\n"}},
		{"one byte over", MboxAuto, from + strings.Repeat("y", 200) + "\n\n" + from + "S: 2\n", []string{"", "S: 2\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items := readAll(t, []byte(tc.in), "/x/buzon.mbox", Options{MboxFormat: tc.format, MaxMessageSize: 200})
			if len(items) != len(tc.want) {
				t.Fatalf("got %d items, want %d", len(items), len(tc.want))
			}
			var input int64
			for i, it := range items {
				input += it.Input
				if tc.want[i] == "" {
					if !errors.Is(it.Err, ErrTooLarge) || it.Data != nil {
						t.Errorf("item %d: err %v, data %d bytes; want ErrTooLarge", i, it.Err, len(it.Data))
					}
					want := "read /x/buzon.mbox at offset 0: mailbox: message too large"
					if !strings.HasPrefix(it.Err.Error(), want) {
						t.Errorf("error %q, want prefix %q", it.Err, want)
					}
					continue
				}
				if it.Err != nil || string(it.Data) != tc.want[i] {
					t.Errorf("item %d: %q, %v; want %q", i, it.Data, it.Err, tc.want[i])
				}
			}
			if input != int64(len(tc.in)) {
				t.Errorf("input %d, want %d", input, len(tc.in))
			}
		})
	}
}

// TestMboxLongContentLength: a Content-Length body larger than the read buffer is
// confirmed with io.ReaderAt when there is one, and treated as unconfirmed otherwise.
func TestMboxLongContentLength(t *testing.T) {
	var body strings.Builder
	for body.Len() < 3*bufSize/2 {
		body.WriteString("From cuerpo@sep.gob.mx Mon Jan  6 09:15:02 2025 (sin citar, dentro del cuerpo)\n")
	}
	const from = "From a@sep.gob.mx Mon Jan  6 09:15:02 2025\n"
	head := "Subject: grande\nContent-Length: " + strconv.Itoa(body.Len()) + "\n\n"
	in := from + head + body.String() + "\n" + from + "S: 2\n"
	framed := []string{head + body.String(), "S: 2\n"}

	tests := []struct {
		name string
		r    io.Reader
		want int // items
	}{
		{"ReaderAt", bytes.NewReader([]byte(in)), 2},
		{"plain Reader", struct{ io.Reader }{strings.NewReader(in)}, 2 + strings.Count(body.String(), "\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items := readAllFrom(t, tc.r, Options{MboxFormat: MboxCL2})
			if len(items) != tc.want {
				t.Fatalf("got %d items, want %d", len(items), tc.want)
			}
			if tc.want == 2 {
				for i, it := range items {
					if string(it.Data) != framed[i] {
						t.Errorf("item %d: %d bytes, want %d", i, len(it.Data), len(framed[i]))
					}
				}
			}
		})
	}

	// An in-memory input without io.ReaderAt gets a buffer that holds all of it, so
	// Content-Length near its end is still confirmed.
	small := from + "Content-Length: 20000\n\n" + strings.Repeat("From x 10:00\n", 20000/13) + strings.Repeat("z", 20000%13)
	items0 := readAllFrom(t, bytes.NewBufferString(small), Options{MboxFormat: MboxCL2})
	if len(items0) != 1 || len(items0[0].Data) != len(small)-len(from) {
		t.Errorf("bytes.Buffer: %d items, want 1 framed message", len(items0))
	}

	// Scan always has the file as io.ReaderAt.
	path := filepath.Join(t.TempDir(), "grande.mbox")
	writeFile(t, path, in)
	items, _ := scanAll(t, []string{path}, Options{})
	if len(items) != 2 || string(items[0].Data) != framed[0] {
		t.Errorf("Scan: %d items, want 2 with the framed body", len(items))
	}
}

// TestMboxReaders: the split does not depend on how the input arrives.
func TestMboxReaders(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mboxrd.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	want := render(readAll(t, data, "m", Options{}), len(data))
	for name, r := range map[string]io.Reader{
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
		"data+err": iotest.DataErrReader(bytes.NewReader(data)),
	} {
		t.Run(name, func(t *testing.T) {
			items := readAllFrom(t, r, Options{})
			if got := render(items, len(data)); !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestMboxReadError: a read error ends the stream with a *ReadError naming the
// offset of the message being read, returned again by later calls.
func TestMboxReadError(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mboxrd.mbox"))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disco dañado")
	r := io.MultiReader(bytes.NewReader(data[:900]), iotest.ErrReader(boom))
	mr, err := NewMboxReader(r, "/x/inbox.mbox", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := mr.Next(ctx); err != nil {
		t.Fatalf("first message: %v", err)
	}
	_, err = mr.Next(ctx)
	var re *ReadError
	if !errors.As(err, &re) || !errors.Is(err, boom) || re.Offset != 791 {
		t.Fatalf("got %v, want ReadError at offset 791 wrapping %v", err, boom)
	}
	if want := "read /x/inbox.mbox at offset 791: disco dañado"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err2 := mr.Next(ctx); err2 != err {
		t.Errorf("later call: %v, want the same error", err2)
	}
}

func TestMboxContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mr, err := NewMboxReader(strings.NewReader("From a 10:00\n\n"), "m", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Next(ctx); err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestOptions(t *testing.T) {
	if _, err := NewMboxReader(strings.NewReader(""), "m", Options{MboxFormat: "mmdf"}); err == nil {
		t.Error("NewMboxReader accepted format mmdf")
	}
	err := Scan(context.Background(), nil, Options{MboxFormat: "mboxcl"}, func(Item) error { return nil })
	if err == nil {
		t.Error("Scan accepted format mboxcl")
	}
	if _, _, err := Estimate(context.Background(), nil, Options{MboxFormat: "x"}); err == nil {
		t.Error("Estimate accepted format x")
	}
}

// TestMboxrdRoundTrip: messages written as mboxrd come back unchanged (apart from
// the final newline the format adds), in mboxrd and auto format.
func TestMboxrdRoundTrip(t *testing.T) {
	msgs := [][]byte{
		[]byte("From: \"Lic. José Ángel Martínez\" <jamartinez@sep.gob.mx>\nSubject: Oficio\n\nFrom the desk of the director.\n>From quoted.\n>>From twice.\nFrom\n"),
		[]byte("From a@b Mon Jan  6 09:15:02 2025\nlo que parece un separador al inicio\n"),
		[]byte("Subject: CRLF\r\n\r\nFrom here on.\r\n>From\r\n\r\n"),
		[]byte("Subject: sin salto final\n\ncuerpo"),
		[]byte(""),
		[]byte("\n"),
		[]byte("\n\n\n"),
		[]byte("Subject: termina en CR\n\nx\r"),
		[]byte(">>>>From a\n>From b"),
		[]byte("Subject: x\n\n\xef\xbb\xbfFrom c 10:00\n"),
	}
	var mbox bytes.Buffer
	if err := writeMboxrd(&mbox, msgs); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{MboxRD, MboxAuto} {
		t.Run(format, func(t *testing.T) {
			items := readAll(t, mbox.Bytes(), "rt", Options{MboxFormat: format})
			if len(items) != len(msgs) {
				t.Fatalf("%d messages written, %d read", len(msgs), len(items))
			}
			for i, it := range items {
				if want := mboxrdNormal(msgs[i]); it.Err != nil || !bytes.Equal(it.Data, want) {
					t.Errorf("message %d: got %q (%v), want %q", i, it.Data, it.Err, want)
				}
			}
		})
	}
}

// BenchmarkMboxReader splits an 8 MiB mbox of 2 KiB messages.
func BenchmarkMboxReader(b *testing.B) {
	var msgs [][]byte
	body := strings.Repeat("Texto del oficio con acentos: ñáéíóú.\n>From una cita.\n", 36)
	for len(msgs)*2048 < 8<<20 {
		msgs = append(msgs, []byte("From: a@sep.gob.mx\nSubject: prueba\n\n"+body))
	}
	var mbox bytes.Buffer
	if err := writeMboxrd(&mbox, msgs); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(mbox.Len()))
	for b.Loop() {
		r, err := NewMboxReader(struct{ io.Reader }{bytes.NewReader(mbox.Bytes())}, "b", Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next(context.Background())
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != len(msgs) {
			b.Fatalf("%d messages, want %d", n, len(msgs))
		}
	}
}
