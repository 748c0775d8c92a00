// Package constancia builds, signs and verifies constancias: the evidence that ties
// one archived message to the ledger and to a trusted time. A constancia holds the
// record's metadata document, its ledger entry, a C2SP tlog-proof (inclusion path up
// to a signed checkpoint), and an RFC 3161 timestamp token over that checkpoint. It
// ships as JSON (this package's Constancia, format "resguardo-constancia/1"), as a CMS
// SignedData (RFC 5652) over the JSON bytes that `openssl cms -verify` accepts, and
// as a PDF for people. Verify checks it offline, with no database and no network.
//
// What it proves (and says, in Spanish first): that the message with these exact
// bytes was in the institution's archive no later than the timestamp's time, as
// entry N of its ledger, and has not changed since; the origin facts observed at
// arrival; and who certified. It never claims "prueba plena": the judge weighs it.
package constancia

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Format is the version identifier of the JSON document.
const Format = "resguardo-constancia/1"

// Constancia is the JSON document (docs/EVIDENCE.md).
type Constancia struct {
	Format      string    `json:"format"`
	IssuedAt    string    `json:"issued_at"`
	Issuer      Issuer    `json:"issuer"`
	StatementES string    `json:"declaracion"`
	StatementEN string    `json:"statement"`
	Record      Record    `json:"record"`
	Ledger      Ledger    `json:"ledger"`
	Timestamp   Timestamp `json:"timestamp"`
	Anchor      *Anchor   `json:"anchor,omitempty"`
	VerifyURL   string    `json:"verify_url,omitempty"`
	// Delivery, in a constancia de entrega: a remote server's acceptance of the
	// message (its ledger entry, under the same signed and timestamped
	// checkpoint as the record's).
	Delivery *Delivery `json:"delivery,omitempty"`
	// Arrivals say how the message reached the institution, as the gateway
	// recorded on arrival: client, TLS, SPF/DKIM/DMARC, each antivirus and
	// antispam engine's verdict. They are attested by the constancia's CMS
	// signature (the institution's), not by the ledger; envelope_sha256 names
	// the full stored envelope they summarise.
	Arrivals []Arrival `json:"arrivals,omitempty"`
}

// Arrival is one reception of the message.
type Arrival struct {
	Channel        string          `json:"channel"` // mx, submission, journal, import, dsn
	ReceivedAt     string          `json:"received_at"`
	ClientIP       string          `json:"client_ip,omitempty"`
	HELO           string          `json:"helo,omitempty"`
	TLS            string          `json:"tls,omitempty"` // "TLS 1.3 TLS_AES_128_GCM_SHA256"
	MailFrom       string          `json:"mail_from,omitempty"`
	RcptTo         []string        `json:"rcpt_to,omitempty"`
	Verdict        string          `json:"verdict,omitempty"` // accept, quarantine
	Reasons        []string        `json:"reasons,omitempty"` // "check/code → action: text"
	SPF            string          `json:"spf,omitempty"`
	DKIM           []string        `json:"dkim,omitempty"` // "pass d=dominio s=selector"
	DMARC          string          `json:"dmarc,omitempty"`
	Antivirus      []EngineVerdict `json:"antivirus,omitempty"`
	Antispam       []EngineVerdict `json:"antispam,omitempty"`
	EnvelopeSHA256 string          `json:"envelope_sha256,omitempty"`
}

// EngineVerdict is one engine's answer on arrival.
type EngineVerdict struct {
	Engine  string   `json:"engine"`
	Version string   `json:"version,omitempty"`
	Verdict string   `json:"verdict"` // clean, infected, error; ham, spam, error
	Threat  string   `json:"threat,omitempty"`
	Score   *float64 `json:"score,omitempty"`
	TookMS  float64  `json:"took_ms"`
}

// Delivery is a delivery entry with its detail document and inclusion proof.
type Delivery struct {
	Detail       string `json:"detail"` // the canonical resguardo-delivery/1 document, exact text (hash it as is)
	DetailSHA256 string `json:"detail_sha256"`
	Index        int64  `json:"index"`
	Entry        string `json:"entry"` // the ledger entry, exact text
	Proof        string `json:"proof"` // C2SP tlog-proof to the same checkpoint as Ledger.Proof
}

// Anchor is a checkpoint containing the record that an accredited PSC anchored with
// a NOM-151-SCFI-2016 constancia de conservación (its object in Timestamp.Token,
// unmodified), with the record's inclusion proof up to it.
type Anchor struct {
	Kind      string    `json:"kind"`  // "nom151"
	Proof     string    `json:"proof"` // C2SP tlog-proof up to the anchored checkpoint
	Timestamp Timestamp `json:"constancia"`
}

// Issuer names the archive that issued the constancia.
type Issuer struct {
	Name     string `json:"name"`
	Instance string `json:"instance"`
}

// Record is what the constancia is about.
type Record struct {
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	Metadata   string `json:"metadata"` // the canonical metadata document, exact text (hash it as is)
	MetaSHA256 string `json:"meta_sha256"`
}

// Ledger places the record in the log.
type Ledger struct {
	Origin    string `json:"origin"`
	PublicKey string `json:"public_key"` // note verifier key of the log; verifiers should pin their own copy
	Index     int64  `json:"index"`
	Entry     string `json:"entry"` // the ledger entry, exact text
	Proof     string `json:"proof"` // C2SP tlog-proof text (index, inclusion path, signed checkpoint)
	// Cosignatures are witness signature lines (C2SP tlog-cosignature) over the
	// proof's checkpoint, kept apart so that the timestamp's digest stays over the
	// checkpoint as the log signed it.
	Cosignatures []string `json:"cosignatures,omitempty"`
}

// Timestamp anchors the checkpoint in time.
type Timestamp struct {
	Kind         string   `json:"kind"`          // "rfc3161" (built-in or external TSA) or "nom151" (PSC)
	Digest       string   `json:"digest_sha256"` // SHA-256 of the signed checkpoint bytes, hex
	Token        []byte   `json:"token"`         // DER, base64 in JSON, unmodified
	Time         string   `json:"time"`
	Authority    string   `json:"authority"`
	TrustAnchors []string `json:"trust_anchors"` // PEM certificates the token chains to (pin your own copy)
}

// Marshal renders the document as indented JSON without HTML escaping (the bytes
// the .p7s signs).
func (c *Constancia) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrFormat reports a document that is not a constancia this program understands.
var ErrFormat = errors.New("constancia: not a resguardo-constancia/1 document")

// Parse decodes a constancia JSON document strictly.
func Parse(b []byte) (*Constancia, error) {
	var c Constancia
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if c.Format != Format {
		return nil, fmt.Errorf("%w: format %q", ErrFormat, c.Format)
	}
	if len(c.Record.SHA256) != 64 || c.Ledger.Entry == "" || c.Ledger.Proof == "" || len(c.Timestamp.Token) == 0 {
		return nil, fmt.Errorf("%w: missing record, ledger or timestamp fields", ErrFormat)
	}
	return &c, nil
}
