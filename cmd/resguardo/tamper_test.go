package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/blob"
	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/corpustest"
)

var (
	tamperOnce sync.Once
	tamperBase string
)

// tamperBaseDir imports the linux-mips sample once; each case works on a copy.
func tamperBaseDir(t *testing.T) string {
	t.Helper()
	src := corpustest.Path(t, "real", "linux-mips", "sample")
	tamperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "resguardo-tamper-")
		if err != nil {
			t.Fatal(err)
		}
		tamperBase = filepath.Join(dir, "data")
		mustCLI(t, "import", "--data", tamperBase, "--progress", "never", src)
		mustCLI(t, "fsck", "--data", tamperBase)
	})
	return tamperBase
}

type fsckJSON struct {
	Records  int64             `json:"records"`
	Errors   int               `json:"errors"`
	Problems []archive.Problem `json:"problems"`
}

func runFsckJSON(t *testing.T, data string, quick bool) (fsckJSON, int) {
	t.Helper()
	args := []string{"fsck", "--data", data, "--json"}
	if quick {
		args = append(args, "--quick")
	}
	out, errOut, code := cli(t, args...)
	var r fsckJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("fsck output: %v\n%s\n%s", err, out, errOut)
	}
	return r, code
}

// someRecord returns a record's id and blob location in data.
func someRecord(t *testing.T, data string) (id string, pack string, off, length int64) {
	t.Helper()
	a, err := archive.Open(context.Background(), archive.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	recs, err := a.Cat.List(context.Background(), catalog.ListOptions{Limit: 1})
	if err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	n, off, length, err := blob.ParseRef(blob.Ref(recs[0].BlobRef))
	if err != nil {
		t.Fatal(err)
	}
	pack = filepath.Join(data, "blobs", fmt.Sprintf("%08d.pack", n))
	return recs[0].SHA256, pack, off, length
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	os.Chmod(path, 0o644)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func execSQL(t *testing.T, data, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func TestTamperDetection(t *testing.T) {
	base := tamperBaseDir(t)
	cases := []struct {
		name   string
		quick  bool
		tamper func(t *testing.T, data string) string // returns the record expected in the report ("" = any)
		kind   string
	}{
		{"one byte of a blob", false, func(t *testing.T, data string) string {
			id, pack, off, length := someRecord(t, data)
			flipByte(t, pack, off+48+length/2)
			return id
		}, "blob-altered"},
		{"blob header", true, func(t *testing.T, data string) string {
			id, pack, off, _ := someRecord(t, data)
			flipByte(t, pack, off+10)
			return id
		}, "blob-altered"},
		{"deleted blobs", true, func(t *testing.T, data string) string {
			id, pack, _, _ := someRecord(t, data)
			os.Remove(pack)
			return id
		}, "blob-missing"},
		{"truncated pack", false, func(t *testing.T, data string) string {
			id, pack, off, _ := someRecord(t, data)
			os.Chmod(pack, 0o644)
			os.Truncate(pack, off+20)
			return id
		}, "blob-missing"},
		{"ledger hash tile", true, func(t *testing.T, data string) string {
			flipByte(t, filepath.Join(data, "ledger", "tile", "0", "000"), 100)
			return ""
		}, "ledger-tile-mismatch"},
		{"ledger entry bundle", false, func(t *testing.T, data string) string {
			flipByte(t, filepath.Join(data, "ledger", "tile", "entries", "001"), 300)
			return ""
		}, "ledger-tile-mismatch"},
		{"ledger checkpoint", true, func(t *testing.T, data string) string {
			flipByte(t, filepath.Join(data, "ledger", "checkpoint"), 30)
			return ""
		}, "ledger-checkpoint"},
		{"catalog row without ledger entry", true, func(t *testing.T, data string) string {
			id, _, _, _ := someRecord(t, data)
			execSQL(t, data, "DELETE FROM ledger_entries WHERE record_seq = (SELECT seq FROM records WHERE sha256 = '"+id+"')")
			return id
		}, "catalog-no-ledger"},
		{"metadata edited", true, func(t *testing.T, data string) string {
			id, _, _, _ := someRecord(t, data)
			execSQL(t, data, "UPDATE records SET meta = replace(meta, '\"subject\":\"', '\"subject\":\"X') WHERE sha256 = '"+id+"'")
			return id
		}, "meta-altered"},
		{"record re-pointed at another blob", false, func(t *testing.T, data string) string {
			id, _, _, _ := someRecord(t, data)
			execSQL(t, data, "UPDATE records SET blob_ref = (SELECT blob_ref FROM records WHERE sha256 <> '"+id+"' LIMIT 1) WHERE sha256 = '"+id+"'")
			return id
		}, "blob-altered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := copyDir(t, base)
			if r, code := runFsckJSON(t, data, tc.quick); code != 0 || r.Errors != 0 {
				t.Fatalf("pristine copy: exit %d, %+v", code, r.Problems)
			}
			rec := tc.tamper(t, data)
			r, code := runFsckJSON(t, data, tc.quick)
			if code != 1 {
				t.Fatalf("fsck exit %d after tampering, want 1; problems %+v", code, r.Problems)
			}
			found := false
			for _, p := range r.Problems {
				if p.Kind == tc.kind && (rec == "" || p.Record == rec || p.Record == "") {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s problem reported; got %+v", tc.kind, r.Problems)
			}
		})
	}
}
