package archive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/resguardo/resguardo/internal/catalog"
	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/keys"
	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/notary"
)

// Notary timestamps a digest (internal/notary: the built-in TSA, an external TSA, a PSC).
type Notary interface {
	Timestamp(ctx context.Context, digest []byte) (*notary.Stamp, error)
}

// TSADir is where the built-in timestamp authority keeps its CA and keys.
func (l Layout) TSADir() string { return filepath.Join(l.Keys(), "tsa") }

// InitEvidence creates what evidence needs when it is missing: the built-in TSA
// (its own CA; the TSA certificate has the critical timeStamping EKU) and the
// institution's certification key. Safe on existing data directories.
func InitEvidence(dir, name string, now time.Time) error {
	lay := Layout{dir}
	if _, err := notary.LoadAuthority(lay.TSADir(), notary.AuthorityOptions{}); err != nil {
		if err := notary.CreateAuthority(lay.TSADir(), notary.AuthorityOptions{Name: name + " TSA", Now: func() time.Time { return now }}); err != nil {
			return fmt.Errorf("create the built-in TSA: %w", err)
		}
	}
	if _, err := keys.InitCertification(lay.Keys(), name, now); err != nil {
		return fmt.Errorf("create the certification key: %w", err)
	}
	return nil
}

// Stamp timestamps the latest checkpoint if it is not stamped yet and stores it. It
// returns the newly stamped checkpoint, or nil when there was nothing new to stamp.
func (a *Archive) Stamp(ctx context.Context, n Notary) (*catalog.Checkpoint, error) {
	note, _ := a.Log.Checkpoint()
	if note == nil {
		return nil, nil
	}
	size, root := a.Log.Root()
	if last, err := a.Cat.LatestCheckpoint(ctx); err == nil && last.Size >= size {
		return nil, nil
	} else if err != nil && !errors.Is(err, catalog.ErrNoCheckpoint) {
		return nil, err
	}
	d := sha256.Sum256(note)
	st, err := n.Timestamp(ctx, d[:])
	if err != nil {
		return nil, fmt.Errorf("timestamp checkpoint %d: %w", size, err)
	}
	cp := catalog.Checkpoint{Size: size, Root: base64.StdEncoding.EncodeToString(root[:]), Note: note,
		StampKind: "rfc3161", Token: st.Token, StampTime: st.Time, Authority: st.Authority, CreatedAt: a.now()}
	if err := a.Cat.AddCheckpoint(ctx, cp); err != nil {
		return nil, err
	}
	a.logger.Info("checkpoint timestamped", "size", size, "time", st.Time, "authority", st.Authority)
	return &cp, nil
}

// Anchor sends the latest checkpoint's hash to a PSC if it is newer than the last
// anchored one, and stores the returned constancia de conservación unmodified. It
// returns the new anchor, or nil when there was nothing new.
func (a *Archive) Anchor(ctx context.Context, psc Notary) (*catalog.Checkpoint, error) {
	note, _ := a.Log.Checkpoint()
	if note == nil {
		return nil, nil
	}
	size, root := a.Log.Root()
	if last, err := a.Cat.LatestAnchor(ctx); err == nil && last.Size >= size {
		return nil, nil
	} else if err != nil && !errors.Is(err, catalog.ErrNoCheckpoint) {
		return nil, err
	}
	d := sha256.Sum256(note)
	st, err := psc.Timestamp(ctx, d[:])
	if err != nil {
		return nil, fmt.Errorf("anchor checkpoint %d with the PSC: %w", size, err)
	}
	cp := catalog.Checkpoint{Size: size, Root: base64.StdEncoding.EncodeToString(root[:]), Note: note, StampKind: "psc",
		Token: st.Token, StampTime: st.Time, Authority: st.Authority, CreatedAt: a.now()}
	if err := a.Cat.AddAnchor(ctx, cp); err != nil {
		return nil, err
	}
	a.logger.Info("checkpoint anchored with NOM-151 constancia", "size", size, "time", st.Time, "psc", st.Authority)
	return &cp, nil
}

// AnchorInputs adds to in the PSC anchor covering the record, if there is one yet.
func (a *Archive) AnchorInputs(ctx context.Context, in *constancia.Inputs, trustAnchors []string) error {
	cp, err := a.Cat.AnchorCovering(ctx, in.Index)
	if errors.Is(err, catalog.ErrNoCheckpoint) {
		return nil
	}
	if err != nil {
		return err
	}
	path, err := a.Log.ProveAt(in.Index, cp.Size)
	if err != nil {
		return err
	}
	d := sha256.Sum256(cp.Note)
	in.Anchor = &constancia.AnchorInputs{Path: path, Checkpoint: cp.Note, Token: cp.Token, StampDigest: hex.EncodeToString(d[:]),
		StampTime: cp.StampTime, Authority: cp.Authority, TrustAnchors: trustAnchors}
	return nil
}

// ErrPending reports a record whose checkpoint is not timestamped yet.
var ErrPending = errors.New("archive: the record's checkpoint is not timestamped yet (pending)")

// ConstanciaInputs gathers what a record's constancia is made of.
func (a *Archive) ConstanciaInputs(ctx context.Context, r *catalog.Record, issuer string, trustAnchors []string) (constancia.Inputs, error) {
	return a.constanciaInputs(ctx, r, issuer, trustAnchors, -1)
}

// ErrNoDelivery is a delivery index that is not a delivery of the record.
var ErrNoDelivery = errors.New("archive: no such delivery of this record")

// DeliveryConstanciaInputs gathers a constancia de entrega: the record and its
// delivery entry at ledger index deliveryIdx, both proved to one stamped
// checkpoint that covers the delivery.
func (a *Archive) DeliveryConstanciaInputs(ctx context.Context, r *catalog.Record, deliveryIdx int64, issuer string, trustAnchors []string) (constancia.Inputs, error) {
	ds, err := a.Cat.Deliveries(ctx, 0, deliveryIdx)
	if err != nil {
		return constancia.Inputs{}, err
	}
	if len(ds) != 1 || ds[0].RecordSeq != r.Seq {
		return constancia.Inputs{}, ErrNoDelivery
	}
	in, err := a.constanciaInputs(ctx, r, issuer, trustAnchors, deliveryIdx)
	if err != nil {
		return in, err
	}
	c, err := ledger.ParseCheckpoint(in.Checkpoint, a.Keys.LedgerVerifier())
	if err != nil {
		return in, err
	}
	path, err := a.Log.ProveAt(deliveryIdx, c.Size)
	if err != nil {
		return in, err
	}
	var det DeliveryDetail
	_ = json.Unmarshal(ds[0].Detail, &det)
	in.Delivery = &constancia.DeliveryInputs{Index: deliveryIdx, Entry: ds[0].Entry, Detail: ds[0].Detail,
		DetailSHA256: ds[0].DetailSHA256, Path: path, Host: det.RemoteHost, IP: det.RemoteIP, Time: det.Time}
	return in, nil
}

// constanciaInputs gathers a record's constancia under the first stamped
// checkpoint covering both the record and, when >= 0, ledger index cover.
func (a *Archive) constanciaInputs(ctx context.Context, r *catalog.Record, issuer string, trustAnchors []string, cover int64) (constancia.Inputs, error) {
	var in constancia.Inputs
	idx, entry, err := a.Cat.EntryOf(ctx, r.Seq)
	if err != nil {
		return in, err
	}
	need := max(idx, cover)
	if idx < 0 || need >= a.Log.Size() {
		return in, ErrPending
	}
	cp, err := a.Cat.CheckpointCovering(ctx, need)
	if errors.Is(err, catalog.ErrNoCheckpoint) {
		return in, ErrPending
	}
	if err != nil {
		return in, err
	}
	path, err := a.Log.ProveAt(idx, cp.Size)
	if err != nil {
		return in, err
	}
	d := sha256.Sum256(cp.Note)
	if _, ok := a.checkedCPs.Load(d); !ok {
		// Checked once per checkpoint and process: an export of many records
		// under one checkpoint verifies its signature and root once.
		c, err := ledger.ParseCheckpoint(cp.Note, a.Keys.LedgerVerifier())
		if err != nil {
			return in, fmt.Errorf("stored checkpoint %d: %w", cp.Size, err)
		}
		if th, err := a.Log.TreeHash(cp.Size); err != nil || th != c.Root {
			return in, fmt.Errorf("stored checkpoint %d does not match the ledger: %w", cp.Size, ledger.ErrTampered)
		}
		a.checkedCPs.Store(d, true)
	}
	cosigs, err := a.Cat.Cosignatures(ctx, cp.Size)
	if err != nil {
		return in, err
	}
	return constancia.Inputs{
		Cosignatures: cosigs,
		IssuerName:   issuer, Instance: a.Format.Instance,
		SHA256: r.SHA256, Size: r.Size, Metadata: r.Meta, MetaSHA256: r.MetaSHA256,
		Origin: a.Format.Origin, PublicKey: a.Keys.LedgerPublicKey(),
		Index: idx, Entry: entry, Path: path, Checkpoint: cp.Note,
		Kind: "rfc3161", Token: cp.Token, StampDigest: hex.EncodeToString(d[:]), StampTime: cp.StampTime,
		Authority: cp.Authority, TrustAnchors: trustAnchors, Now: a.now(),
	}, nil
}
