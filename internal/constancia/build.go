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
}

// Build assembles the constancia document.
func Build(in Inputs) *Constancia {
	es, en := statements(in.IssuerName, in.SHA256, in.Index, in.StampTime, in.Authority)
	return &Constancia{
		Format:      Format,
		IssuedAt:    in.Now.UTC().Format(time.RFC3339),
		Issuer:      Issuer{Name: in.IssuerName, Instance: in.Instance},
		StatementES: es,
		StatementEN: en,
		Record:      Record{SHA256: in.SHA256, Size: in.Size, Metadata: string(in.Metadata), MetaSHA256: in.MetaSHA256},
		Ledger: Ledger{Origin: in.Origin, PublicKey: in.PublicKey, Index: in.Index, Entry: string(in.Entry),
			Proof: string(ledger.Proof{Index: in.Index, Path: in.Path, Checkpoint: in.Checkpoint}.Marshal())},
		Timestamp: Timestamp{Kind: in.Kind, Digest: in.StampDigest, Token: in.Token,
			Time: in.StampTime.UTC().Format(time.RFC3339Nano), Authority: in.Authority, TrustAnchors: in.TrustAnchors},
		VerifyURL: in.VerifyURL,
	}
}
