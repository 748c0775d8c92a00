package mailbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// fromLines returns the offsets of every line starting with "From " in data.
func fromLines(data []byte) []int64 {
	var offs []int64
	for _, loc := range regexp.MustCompile(`(?m)^From `).FindAllIndex(data, -1) {
		offs = append(offs, int64(loc[0]))
	}
	return offs
}

func sourceOffset(t *testing.T, source string) int64 {
	t.Helper()
	i := strings.LastIndexByte(source, ':')
	n, err := strconv.ParseInt(source[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("source %q has no offset", source)
	}
	return n
}

// TestCorpusMbox checks message counts of the corpus mbox files, verified by hand:
//
//   - sisimai mailbox/mbox-0: 37 "^From " lines (grep -a), all real separators
//     ("From MAILER-DAEMON <date>" and similar, each after the previous message); CRLF.
//     Line 685 has a stale "Content-Length: 216" (the message was converted to CRLF):
//     auto mode must not trust it.
//   - sisimai mailbox/mbox-1: 1 From_ line.
//   - spamassassin nice.mbox: 3 From_ lines (lines 1, 87, 110).
//   - mimekit simple.mbox.txt: 3 "From - " lines (Netscape, no date, no blank line
//     before them); issue1189.mbox.txt: 4 "From <id>@xxx" lines without date.
//   - mimekit unmunged.mbox.txt: UTF-8 BOM, then "From -" (lines 1, 13) and
//     unquoted body lines "From Russia with love" (lines 9, 21). mboxo splits at all
//     4, as MimeKit's own test expects; auto and mboxrd see 2 messages, each keeping
//     its "From Russia with love" line (the RFC 4155 shape check).
//   - mimekit content-length.mbox.txt: 29 From_ lines and 29 Content-Length fields;
//     the lengths of messages 1, 2, 3 and 5 are wrong (checked with a script), the
//     other 25 are exact. Two bodies hold ">From - Fri Dec 13 15:01:21 1996"
//     (Netscape quoting a forwarded message): kept in auto/mboxcl2 (framed by
//     Content-Length), unquoted by mboxrd.
func TestCorpusMbox(t *testing.T) {
	tests := []struct {
		path    string
		format  string
		want    int
		allFrom bool // every "^From " line is a separator
	}{
		{"torture/sisimai-bounces/mailbox/mbox-0", MboxAuto, 37, true},
		{"torture/sisimai-bounces/mailbox/mbox-0", MboxO, 37, true},
		{"torture/sisimai-bounces/mailbox/mbox-1", MboxAuto, 1, true},
		{"torture/spamassassin-t-data/nice.mbox", MboxAuto, 3, true},
		{"torture/spamassassin-t-data/nice.mbox", MboxRD, 3, true},
		{"torture/mimekit/mbox/simple.mbox.txt", MboxAuto, 3, true},
		{"torture/mimekit/mbox/issue1189.mbox.txt", MboxAuto, 4, true},
		{"torture/mimekit/mbox/unmunged.mbox.txt", MboxAuto, 2, false},
		{"torture/mimekit/mbox/unmunged.mbox.txt", MboxRD, 2, false},
		{"torture/mimekit/mbox/unmunged.mbox.txt", MboxO, 4, false},
		{"torture/mimekit/mbox/content-length.mbox.txt", MboxAuto, 29, true},
		{"torture/mimekit/mbox/content-length.mbox.txt", MboxCL2, 29, true},
		{"torture/mimekit/mbox/content-length.mbox.txt", MboxRD, 29, true},
	}
	for _, tc := range tests {
		t.Run(tc.path+"/"+tc.format, func(t *testing.T) {
			path := corpustest.Path(t, filepath.FromSlash(tc.path))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			items, _ := scanAll(t, []string{path}, Options{MboxFormat: tc.format})
			if len(items) != tc.want {
				t.Fatalf("%d items, want %d", len(items), tc.want)
			}
			var input int64
			var offs []int64
			for _, it := range items {
				if it.Err != nil || it.Format != FormatMbox {
					t.Errorf("%s: %s %v", it.Source, it.Format, it.Err)
				}
				input += it.Input
				off := sourceOffset(t, it.Source)
				offs = append(offs, off)
				if !bytes.HasPrefix(data[off:], []byte("From ")) {
					t.Errorf("%s does not point at a From_ line", it.Source)
				}
			}
			if input != int64(len(data)) {
				t.Errorf("input %d, file has %d bytes", input, len(data))
			}
			if tc.allFrom && !reflect.DeepEqual(offs, fromLines(data)) {
				t.Errorf("offsets %v, want the From lines %v", offs, fromLines(data))
			}
		})
	}
}

// naiveSplit cuts data at every "^From " line, drops the From_ line and one
// trailing empty line: the reference for files where every such line separates.
func naiveSplit(data []byte) [][]byte {
	offs := fromLines(data)
	var out [][]byte
	for i, off := range offs {
		end := int64(len(data))
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		m := data[off:end]
		m = m[bytes.IndexByte(m, '\n')+1:]
		out = append(out, stripSeparator(m))
	}
	return out
}

// TestCorpusMboxBytes compares messages byte for byte with the naive split, which is
// exact for these files, and checks the unquoting differences between formats.
func TestCorpusMboxBytes(t *testing.T) {
	tests := []struct {
		name   string
		framed int // messages whose Content-Length matches their body
	}{
		{"torture/sisimai-bounces/mailbox/mbox-0", 0},
		{"torture/spamassassin-t-data/nice.mbox", 0},
		{"torture/mimekit/mbox/simple.mbox.txt", 0},
		// 25 exact lengths; 7 of those bodies end without a newline.
		{"torture/mimekit/mbox/content-length.mbox.txt", 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := corpustest.Path(t, filepath.FromSlash(tc.name))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveSplit(data)
			auto, _ := scanAll(t, []string{path}, Options{})
			rd, _ := scanAll(t, []string{path}, Options{MboxFormat: MboxRD})
			if len(auto) != len(want) || len(rd) != len(want) {
				t.Fatalf("auto %d, mboxrd %d items; want %d", len(auto), len(rd), len(want))
			}
			unquoted, framed := 0, 0
			for i := range want {
				if bodyMatchesLength(auto[i].Data) {
					framed++
				}
				// A Content-Length body may end without a newline before the
				// separator line ("---ABC--\nFrom - ..."): the newline is not part of
				// the message, though a line-based split has to keep it.
				if !bytes.Equal(auto[i].Data, want[i]) && !(bodyMatchesLength(auto[i].Data) && bytes.Equal(append(auto[i].Data, '\n'), want[i])) {
					t.Errorf("auto item %d (%s) differs from the naive split", i, auto[i].Source)
				}
				if !bytes.Equal(rd[i].Data, want[i]) {
					unquoted++
					if fixed := bytes.ReplaceAll(want[i], []byte("\n>From "), []byte("\nFrom ")); !bytes.Equal(rd[i].Data, fixed) {
						t.Errorf("mboxrd item %d differs by more than unquoting", i)
					}
				}
			}
			if wantUnquoted := bytes.Count(data, []byte("\n>From ")); unquoted != wantUnquoted {
				t.Errorf("mboxrd changed %d messages, want %d", unquoted, wantUnquoted)
			}
			if framed != tc.framed {
				t.Errorf("%d messages framed by Content-Length, want %d", framed, tc.framed)
			}
		})
	}
}

// bodyMatchesLength reports whether msg has one Content-Length field whose value is
// the length of its body.
func bodyMatchesLength(msg []byte) bool {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return false
	}
	n, count := int64(-1), 0
	for _, line := range bytes.SplitAfter(msg[:i+1], []byte("\n")) {
		if v, ok := contentLength(line); ok {
			n, count = v, count+1
		}
	}
	return count == 1 && n == int64(len(msg)-i-2)
}

// TestCorpusStaleContentLength: sisimai mbox-0's message with "Content-Length: 216"
// is framed by its From_ lines.
func TestCorpusStaleContentLength(t *testing.T) {
	path := corpustest.Path(t, "torture", "sisimai-bounces", "mailbox", "mbox-0")
	items, _ := scanAll(t, []string{path}, Options{MboxFormat: MboxCL2})
	for _, it := range items {
		if bytes.Contains(it.Data, []byte("Content-Length: 216\r\n")) {
			if !bytes.HasSuffix(it.Data, []byte("1219921820--\r\n\r\n")) || !bytes.Contains(it.Data, []byte("X-BMTA-TYPE-ISP")) {
				t.Errorf("%s: %d bytes, not the whole message", it.Source, len(it.Data))
			}
			return
		}
	}
	t.Error("message with Content-Length: 216 not found")
}

// TestCorpusWalkMailbox walks sisimai's mailbox/ directory: two mbox files (37 + 1
// messages) and three files that are not mail (0 bytes, " ", "22\n").
func TestCorpusWalkMailbox(t *testing.T) {
	dir := corpustest.Path(t, "torture", "sisimai-bounces", "mailbox")
	items, skips := scanAll(t, []string{dir}, Options{})
	if len(items) != 38 {
		t.Errorf("%d items, want 38", len(items))
	}
	want := []Skip{
		{filepath.Join(dir, "size-0"), "empty file"},
		{filepath.Join(dir, "size-1"), "not mail: only blank lines"},
		{filepath.Join(dir, "size-2"), "not mail: first line is not a header field"},
	}
	if !reflect.DeepEqual(skips, want) {
		t.Errorf("skips %+v, want %+v", skips, want)
	}
	files, size, err := Estimate(t.Context(), []string{dir}, Options{})
	if err != nil || files != 5 || size != 96906+2535+0+1+3 {
		t.Errorf("Estimate = %d, %d, %v; want 5 files, %d bytes", files, size, err, 96906+2535+4)
	}
}

// TestCorpusUnquotedEnvelope documents the format's ambiguity on a real file:
// sisimai's rb-issue-368-bug.eml quotes a bounced message with its envelope line
// "From bounce+... Sat Oct  4 08:00:07 2025" unquoted after an empty line. It has
// the RFC 4155 shape, so it separates: 2 messages.
func TestCorpusUnquotedEnvelope(t *testing.T) {
	path := corpustest.Path(t, "torture", "sisimai-bounces", "maildir", "not", "rb-issue-368-bug.eml")
	items, _ := scanAll(t, []string{path}, Options{})
	if len(items) != 2 || !strings.HasPrefix(string(items[1].Data), "Date: Sat, 04 Oct 2025 06:00:03 +0000") {
		t.Errorf("%d items, want 2 with the second starting at the quoted message", len(items))
	}
}

// TestCorpusWalkMimekit walks a whole corpus dataset directory: MANIFEST.tsv and the
// 19 TNEF blobs are not mail; 38 mbox messages (29+4+3+2), 23 files in messages/
// (multipart-digest.txt starts with "From - " and is a 1-message mbox) and 7 in
// partial/ are.
func TestCorpusWalkMimekit(t *testing.T) {
	dir := corpustest.Path(t, "torture", "mimekit")
	items, skips := scanAll(t, []string{dir}, Options{})
	if len(items) != 68 {
		t.Errorf("%d items, want 68", len(items))
	}
	tnef, _ := filepath.Glob(filepath.Join(dir, "tnef", "*.tnef"))
	if len(tnef) != 19 {
		t.Fatalf("%d TNEF files, want 19", len(tnef))
	}
	want := []Skip{{filepath.Join(dir, "MANIFEST.tsv"), "not mail: first line is not a header field"}}
	for _, p := range tnef {
		want = append(want, Skip{p, "not mail: first line is not a header field"})
	}
	if !reflect.DeepEqual(skips, want) {
		t.Errorf("skips %+v\nwant %+v", skips, want)
	}
}

// TestCorpusLinuxMips: the 1002 public-inbox messages come out byte for byte, as
// the sha256 column of index.tsv says, and index.tsv is skipped.
func TestCorpusLinuxMips(t *testing.T) {
	dir := corpustest.Path(t, "real", "linux-mips", "sample")
	f, err := os.Open(filepath.Join(dir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "#") || len(cols) < 3 {
			continue
		}
		want[filepath.Join(dir, cols[0])] = cols[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) != 1002 {
		t.Fatalf("index.tsv lists %d files, want 1002", len(want))
	}

	items, skips := scanAll(t, []string{dir}, Options{})
	if len(items) != 1002 {
		t.Errorf("%d items, want 1002", len(items))
	}
	for _, it := range items {
		sum := sha256.Sum256(it.Data)
		if it.Err != nil || it.Format != FormatEML || hex.EncodeToString(sum[:]) != want[it.Source] {
			t.Errorf("%s: %s %v, sha256 %x, want %s", it.Source, it.Format, it.Err, sum, want[it.Source])
		}
		delete(want, it.Source)
	}
	if len(want) != 0 {
		t.Errorf("%d indexed files not returned", len(want))
	}
	wantSkips := []Skip{{filepath.Join(dir, "index.tsv"), "not mail: first line is not a header field"}}
	if !reflect.DeepEqual(skips, wantSkips) {
		t.Errorf("skips %+v, want %+v", skips, wantSkips)
	}
}
