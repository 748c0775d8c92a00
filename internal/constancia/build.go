package constancia

import (
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/ledger"
)

// Inputs is everything a constancia is made of; the archive gathers it.
type Inputs struct {
	IssuerName, Instance string
	SHA256               string
	Size                 int64
	Metadata             []byte
	MetaSHA256           string
	Origin, PublicKey    string
	Index                int64
	Entry                []byte
	Path                 tlog.RecordProof
	Checkpoint           []byte // signed note
	Kind                 string // "rfc3161" or "nom151"
	Token                []byte
	StampDigest          string // hex SHA-256 of Checkpoint
	StampTime            time.Time
	Authority            string
	TrustAnchors         []string // PEM
	VerifyURL            string
	Now                  time.Time
	Anchor               *AnchorInputs // a NOM-151 anchor covering the record, when there is one
	Cosignatures         []string      // witness signature lines over Checkpoint
	Delivery             *DeliveryInputs
	Arrivals             []Arrival
}

// DeliveryInputs is a delivery entry of the record, proved to Checkpoint.
type DeliveryInputs struct {
	Index        int64
	Entry        []byte
	Detail       []byte
	DetailSHA256 string
	Path         tlog.RecordProof
	Host, IP     string // for the statement
	Time         string
}

// AnchorInputs is a PSC-anchored checkpoint covering the record.
type AnchorInputs struct {
	Path         tlog.RecordProof
	Checkpoint   []byte
	Token        []byte
	StampDigest  string
	StampTime    time.Time
	Authority    string
	TrustAnchors []string
}

// Build assembles the constancia document.
func Build(in Inputs) *Constancia {
	es, en := statements(in.IssuerName, in.SHA256, in.Index, in.StampTime, in.Authority)
	var delivery *Delivery
	if d := in.Delivery; d != nil {
		des, den := deliveryStatements(d.Host, d.IP, d.Time, d.Index)
		es, en = es+" "+des, en+" "+den
		delivery = &Delivery{Detail: string(d.Detail), DetailSHA256: d.DetailSHA256, Index: d.Index, Entry: string(d.Entry),
			Proof: string(ledger.Proof{Index: d.Index, Path: d.Path, Checkpoint: in.Checkpoint}.Marshal())}
	}
	var anchor *Anchor
	if a := in.Anchor; a != nil {
		anchor = &Anchor{Kind: "nom151", Proof: string(ledger.Proof{Index: in.Index, Path: a.Path, Checkpoint: a.Checkpoint}.Marshal()),
			Timestamp: Timestamp{Kind: "nom151", Digest: a.StampDigest, Token: a.Token, Time: a.StampTime.UTC().Format(time.RFC3339Nano),
				Authority: a.Authority, TrustAnchors: a.TrustAnchors}}
	}
	return &Constancia{
		Anchor:      anchor,
		Format:      Format,
		IssuedAt:    in.Now.UTC().Format(time.RFC3339),
		Issuer:      Issuer{Name: in.IssuerName, Instance: in.Instance},
		StatementES: es,
		StatementEN: en,
		Record:      Record{SHA256: in.SHA256, Size: in.Size, Metadata: string(in.Metadata), MetaSHA256: in.MetaSHA256},
		Ledger: Ledger{Origin: in.Origin, PublicKey: in.PublicKey, Index: in.Index, Entry: string(in.Entry),
			Proof: string(ledger.Proof{Index: in.Index, Path: in.Path, Checkpoint: in.Checkpoint}.Marshal()), Cosignatures: in.Cosignatures},
		Timestamp: Timestamp{Kind: in.Kind, Digest: in.StampDigest, Token: in.Token,
			Time: in.StampTime.UTC().Format(time.RFC3339Nano), Authority: in.Authority, TrustAnchors: in.TrustAnchors},
		VerifyURL: in.VerifyURL,
		Delivery:  delivery,
		Arrivals:  in.Arrivals,
	}
}
