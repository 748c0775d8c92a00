package archive

import (
	"context"
	"testing"
	"time"

	"github.com/resguardo/resguardo/internal/ledger"
)

// Delivery entries are durable in the catalog when LogDeliveries returns; the
// Merkle log takes them with the next ingester batch (one append for both) or a
// deferred catch-up, and Close never leaves them behind.
func TestDeliveryEntriesReachTheLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	delivery := func(sha string) DeliveryLog {
		return DeliveryLog{Seq: 1, Detail: DeliveryDetail{SHA256: sha, Time: ledger.FormatTime(time.Now()),
			Route: "next_hop", RemoteHost: "mx.sefin.ejemplo.gob.mx", RemoteIP: "127.0.0.1", Reply: "250 2.0.0 Ok"}}
	}

	t.Run("next batch appends them with its own entries", func(t *testing.T) {
		dir, a := newArchive(t)
		a.soonDelay = time.Hour // only the batch can append it
		res := ingestAll(t, a, [][]byte{oficio(1)})
		idx, _, err := a.LogDeliveries(ctx, []DeliveryLog{delivery(res[0].SHA256)})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Log.Size(); got != idx[0] {
			t.Fatalf("ledger size %d right after LogDeliveries, want %d (append deferred)", got, idx[0])
		}
		ingestAll(t, a, [][]byte{oficio(2)})
		if got := a.Log.Size(); got != idx[0]+2 {
			t.Fatalf("ledger size %d after the batch; delivery entry %d and the batch's record should be in", got, idx[0])
		}
		e, err := a.Log.Entry(idx[0])
		if err != nil {
			t.Fatal(err)
		}
		if d, err := ledger.ParseDeliveryEntry(e); err != nil || d.SHA256 != res[0].SHA256 {
			t.Fatalf("entry %d: %s %v", idx[0], e, err)
		}
		a.Close()
		if rep, err := Fsck(ctx, dir, FsckOptions{}); err != nil || rep.ErrorCount != 0 {
			t.Fatalf("fsck: %+v %v", rep, err)
		}
	})

	t.Run("a quiet archive appends them within appendSoonDelay", func(t *testing.T) {
		_, a := newArchive(t)
		defer a.Close()
		res := ingestAll(t, a, [][]byte{oficio(3)})
		idx, _, err := a.LogDeliveries(ctx, []DeliveryLog{delivery(res[0].SHA256)})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(appendSoonDelay + 3*time.Second); a.Log.Size() <= idx[0]; {
			if time.Now().After(deadline) {
				t.Fatalf("delivery entry %d not in the ledger (size %d)", idx[0], a.Log.Size())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("Close appends them", func(t *testing.T) {
		dir, a := newArchive(t)
		a.soonDelay = time.Hour // only Close can append it
		res := ingestAll(t, a, [][]byte{oficio(4)})
		idx, _, err := a.LogDeliveries(ctx, []DeliveryLog{delivery(res[0].SHA256)})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Open(ctx, Options{Dir: dir}) // a reader does not catch up
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Log.Size() != idx[0]+1 {
			t.Fatalf("after Close the ledger has %d entries, want %d", r.Log.Size(), idx[0]+1)
		}
	})
}
