package constancia

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/ledger"
	"github.com/resguardo/resguardo/internal/notary"
)

// Step keys, in the order Verify runs them.
const (
	StepDocument   = "document"
	StepMessage    = "message"
	StepMetadata   = "metadata"
	StepEntry      = "entry"
	StepCheckpoint = "checkpoint"
	StepInclusion  = "inclusion"
	StepTimestamp  = "timestamp"
	StepSignature  = "signature"
	StepAnchor     = "anchor"
	StepWitnesses  = "witnesses"
	StepNewer      = "newer-checkpoint"
	StepDelivery   = "delivery"
	StepStatement  = "statement"
)

// Step is one verification step.
type Step struct {
	Key    string `json:"step"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	OK        bool      `json:"ok"`
	Steps     []Step    `json:"steps"`
	Record    string    `json:"record,omitempty"`
	Index     int64     `json:"index"`
	TreeSize  int64     `json:"tree_size"`
	Time      time.Time `json:"time"`
	Authority string    `json:"authority,omitempty"`
	Signers   []Signer  `json:"signers,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
}

// Failed returns the first failed step, or "".
func (r *Report) Failed() string {
	for _, s := range r.Steps {
		if !s.OK {
			return s.Key
		}
	}
	return ""
}

// Options pins what Verify trusts.
type Options struct {
	LogKey   string              // note verifier key of the log; "" = the one in the constancia (not pinned)
	TSARoots []*x509.Certificate // trust anchors for the timestamp; empty = the ones in the constancia (not pinned)
	P7S      []byte              // CMS signature over the document, optional
	CARoots  []*x509.Certificate // trust anchors for P7S; empty = the signer chain's own root (not pinned)
	PSCRoots []*x509.Certificate // accredited PSC certificates for a NOM-151 anchor; empty = the ones in the constancia (not pinned)
	// Witnesses are witness verifier keys (C2SP tlog-cosignature); at least
	// RequiredWitnesses of them (default: all) must have cosigned the checkpoint.
	Witnesses         []string
	RequiredWitnesses int
	// Newer, with Consistency, verifies the constancia against a later signed
	// checkpoint: the consistency proof shows the later tree extends the proof's.
	Newer       []byte
	Consistency []tlog.Hash
	Now         time.Time // for certificate validity of the CMS signer; zero = time.Now
}

// Verify checks a constancia (doc, its exact JSON bytes) for a message, offline. It
// runs every step it can and reports each.
func Verify(message, doc []byte, opt Options) *Report {
	r := &Report{Index: -1}
	add := func(key string, ok bool, format string, a ...any) bool {
		r.Steps = append(r.Steps, Step{Key: key, OK: ok, Detail: fmt.Sprintf(format, a...)})
		return ok
	}
	c, err := Parse(doc)
	if !add(StepDocument, err == nil, "%s", errText(err, Format)) {
		return r
	}
	r.Record, r.Index = c.Record.SHA256, c.Ledger.Index
	sum := sha256.Sum256(message)
	add(StepMessage, hex.EncodeToString(sum[:]) == c.Record.SHA256, "SHA-256 %x (constancia: %s)", sum, c.Record.SHA256)
	msum := sha256.Sum256([]byte(c.Record.Metadata))
	add(StepMetadata, hex.EncodeToString(msum[:]) == c.Record.MetaSHA256, "SHA-256 %x (constancia: %s)", msum, c.Record.MetaSHA256)

	e, err := ledger.ParseRecordEntry([]byte(c.Ledger.Entry))
	switch {
	case err != nil:
		add(StepEntry, false, "%v", err)
	case e.SHA256 != c.Record.SHA256 || e.Size != c.Record.Size || e.MetaSHA256 != c.Record.MetaSHA256:
		add(StepEntry, false, "the ledger entry describes another message or metadata")
	default:
		add(StepEntry, true, "entry %d: %s, %d bytes, archived %s via %s", c.Ledger.Index, e.SHA256[:16], e.Size, e.Time, e.Channel)
	}

	key := opt.LogKey
	if key == "" {
		key = c.Ledger.PublicKey
		r.Warnings = append(r.Warnings, "log key taken from the constancia itself: pin it with --log-key")
	} else if key != c.Ledger.PublicKey {
		r.Warnings = append(r.Warnings, "the constancia names another log key than the pinned one")
	}
	p, perr := ledger.ParseProof([]byte(c.Ledger.Proof))
	v, kerr := note.NewVerifier(key)
	var cp ledger.Checkpoint
	switch {
	case perr != nil:
		add(StepCheckpoint, false, "%v", perr)
	case kerr != nil:
		add(StepCheckpoint, false, "log key: %v", kerr)
	default:
		cp, err = ledger.VerifyProof(p, []byte(c.Ledger.Entry), v)
		switch {
		case errors.Is(err, ledger.ErrCheckpointSignature) || (err != nil && cp.Size == 0):
			add(StepCheckpoint, false, "%v", err)
		default:
			add(StepCheckpoint, true, "signed by %s: tree of %d entries, root %s", v.Name(), cp.Size, cp.Root)
			r.TreeSize = cp.Size
			add(StepInclusion, err == nil && p.Index == c.Ledger.Index, "entry %d in the tree of %d: %s", p.Index, cp.Size, errText(err, "path verified"))
		}
	}

	if st, err := r.verifyToken(c.Timestamp, p.Checkpoint, opt.TSARoots, "timestamp authority", "--tsa-ca"); err != nil {
		add(StepTimestamp, false, "%v", err)
	} else {
		r.Time, r.Authority = st.Time, st.Authority
		add(StepTimestamp, true, "%s by %s", st.Time.UTC().Format(time.RFC3339), st.Authority)
	}
	if c.Delivery != nil {
		r.verifyDelivery(c, p, v, add)
	}
	r.verifyStatement(c, opt.P7S != nil, add)
	if opt.Newer != nil && v != nil && cp.Size > 0 {
		nc, err := ledger.ParseCheckpoint(opt.Newer, v)
		switch {
		case err != nil:
			add(StepNewer, false, "%v", err)
		case nc.Size < cp.Size:
			add(StepNewer, false, "the newer checkpoint (%d) is smaller than the constancia's (%d)", nc.Size, cp.Size)
		default:
			err := tlog.CheckTree(opt.Consistency, nc.Size, nc.Root, cp.Size, cp.Root)
			add(StepNewer, err == nil, "tree of %d entries extends the tree of %d: %s", nc.Size, cp.Size, errText(err, "consistency proof verified"))
		}
	}
	if len(opt.Witnesses) > 0 {
		r.verifyWitnesses(c, p.Checkpoint, v, opt, add)
	}
	if c.Anchor != nil && v != nil {
		r.verifyAnchor(c, v, opt, add)
	}
	if opt.P7S != nil {
		roots := x509.NewCertPool()
		for _, ca := range opt.CARoots {
			roots.AddCert(ca)
		}
		if len(opt.CARoots) == 0 {
			roots = nil
			r.Warnings = append(r.Warnings, "CMS signer chain not pinned: give the institution's CA certificate")
		}
		now := opt.Now
		if now.IsZero() {
			now = time.Now()
		}
		signers, err := VerifyCMS(opt.P7S, doc, roots, now)
		r.Signers = signers
		add(StepSignature, err == nil, "%s", errText(err, fmt.Sprintf("%d signer(s)", len(signers))))
	}
	r.OK = r.Failed() == ""
	return r
}

// verifyToken checks an RFC 3161 token (or NOM-151 object) over the SHA-256 of a
// checkpoint, against roots or, when none are pinned, the constancia's own anchors.
func (r *Report) verifyToken(ts Timestamp, checkpoint []byte, roots []*x509.Certificate, who, flag string) (*notary.Stamp, error) {
	d := sha256.Sum256(checkpoint)
	if hex.EncodeToString(d[:]) != ts.Digest || len(checkpoint) == 0 {
		return nil, errors.New("the timestamp is over another checkpoint")
	}
	if len(roots) == 0 {
		r.Warnings = append(r.Warnings, who+" taken from the constancia itself: pin it with "+flag)
		for _, p := range ts.TrustAnchors {
			if cert, err := parseCert([]byte(p)); err == nil {
				roots = append(roots, cert)
			}
		}
	}
	pool := x509.NewCertPool()
	for _, ca := range roots {
		pool.AddCert(ca)
	}
	return notary.Verify(ts.Token, d[:], notary.VerifyOptions{Roots: pool, Hash: crypto.SHA256})
}

func (r *Report) verifyWitnesses(c *Constancia, checkpoint []byte, v note.Verifier, opt Options, add func(string, bool, string, ...any) bool) {
	var ws []*ledger.CosignVerifier
	for _, k := range opt.Witnesses {
		w, err := ledger.NewCosignVerifier(k)
		if err != nil {
			add(StepWitnesses, false, "witness key %q: %v", k, err)
			return
		}
		ws = append(ws, w)
	}
	need := opt.RequiredWitnesses
	if need <= 0 || need > len(ws) {
		need = len(ws)
	}
	if v == nil || len(checkpoint) == 0 {
		add(StepWitnesses, false, "no verified checkpoint to check cosignatures on")
		return
	}
	got, err := ledger.CheckWitnesses(ledger.WithSignatures(checkpoint, c.Ledger.Cosignatures), v, ws)
	if err != nil {
		add(StepWitnesses, false, "%v", err)
		return
	}
	var names []string
	for n, t := range got {
		names = append(names, n+" ("+t.Format(time.RFC3339)+")")
	}
	sort.Strings(names)
	add(StepWitnesses, len(got) >= need, "%d of %d required witnesses cosigned: %s", len(got), need, strings.Join(names, ", "))
}

// verifyAnchor checks the NOM-151 anchor: the record's inclusion in the anchored
// checkpoint, that checkpoint's signature, and the PSC's constancia over it.
func (r *Report) verifyAnchor(c *Constancia, v note.Verifier, opt Options, add func(string, bool, string, ...any) bool) {
	p, err := ledger.ParseProof([]byte(c.Anchor.Proof))
	if err != nil {
		add(StepAnchor, false, "%v", err)
		return
	}
	if p.Index != c.Ledger.Index {
		add(StepAnchor, false, "the anchor proves entry %d, not %d", p.Index, c.Ledger.Index)
		return
	}
	cp, err := ledger.VerifyProof(p, []byte(c.Ledger.Entry), v)
	if err != nil {
		add(StepAnchor, false, "%v", err)
		return
	}
	st, err := r.verifyToken(c.Anchor.Timestamp, p.Checkpoint, opt.PSCRoots, "PSC certificate", "--psc-ca")
	if err != nil {
		add(StepAnchor, false, "NOM-151 constancia: %v", err)
		return
	}
	add(StepAnchor, true, "NOM-151 constancia de conservación by %s, %s, over the checkpoint of %d entries", st.Authority, st.Time.UTC().Format(time.RFC3339), cp.Size)
}

func parseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(bytes.TrimSpace(b))
	if blk == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func errText(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

// verifyStatement checks that the declaration, in both languages, is the one
// Build writes for the constancia's facts: the message's SHA-256, its ledger
// index, the timestamp's time and authority and, for a constancia de entrega,
// the server, address and time of the delivery detail (whose hash the delivery
// step checks). The prose is not covered by any hash but the CMS signature, so
// without this a changed declaration would verify with the JSON alone.
func (r *Report) verifyStatement(c *Constancia, signed bool, add func(string, bool, string, ...any) bool) {
	at, err := time.Parse(time.RFC3339Nano, c.Timestamp.Time)
	if err != nil {
		add(StepStatement, false, "timestamp time %q: %v", c.Timestamp.Time, err)
		return
	}
	es, en := statements(c.Issuer.Name, c.Record.SHA256, c.Ledger.Index, at, c.Timestamp.Authority)
	if d := c.Delivery; d != nil {
		var det struct {
			RemoteHost string `json:"remote_host"`
			RemoteIP   string `json:"remote_ip"`
			Time       string `json:"time"`
		}
		_ = json.Unmarshal([]byte(d.Detail), &det)
		des, den := deliveryStatements(det.RemoteHost, det.RemoteIP, det.Time, d.Index)
		es, en = es+" "+des, en+" "+den
	}
	switch {
	case c.StatementES != es:
		add(StepStatement, false, "the Spanish declaration is not the one these facts give")
	case c.StatementEN != en:
		add(StepStatement, false, "the English statement is not the one these facts give")
	case r.Time != (time.Time{}) && (!r.Time.Equal(at) || r.Authority != c.Timestamp.Authority):
		add(StepStatement, false, "the declaration's time or authority (%s, %s) is not the timestamp's (%s, %s)",
			at.UTC().Format(time.RFC3339), c.Timestamp.Authority, r.Time.UTC().Format(time.RFC3339), r.Authority)
	case signed:
		add(StepStatement, true, "the declaration states exactly the verified facts")
	default:
		add(StepStatement, true, "the declaration states exactly the verified facts (the issuer's name, %q, is attested by the .p7s signature)", c.Issuer.Name)
	}
}

// verifyDelivery checks a constancia de entrega's delivery: the detail's hash,
// the entry naming the message and the detail, and its inclusion under the
// same checkpoint as the record (so the same timestamp dates it).
func (r *Report) verifyDelivery(c *Constancia, recordProof ledger.Proof, v note.Verifier, add func(string, bool, string, ...any) bool) {
	d := c.Delivery
	sum := sha256.Sum256([]byte(d.Detail))
	if hex.EncodeToString(sum[:]) != d.DetailSHA256 {
		add(StepDelivery, false, "the delivery detail does not have its SHA-256")
		return
	}
	e, err := ledger.ParseDeliveryEntry([]byte(d.Entry))
	if err != nil {
		add(StepDelivery, false, "%v", err)
		return
	}
	if e.SHA256 != c.Record.SHA256 || e.DetailSHA256 != d.DetailSHA256 {
		add(StepDelivery, false, "the delivery entry names another message or detail")
		return
	}
	p, err := ledger.ParseProof([]byte(d.Proof))
	if err != nil || v == nil {
		add(StepDelivery, false, "delivery proof: %v", err)
		return
	}
	if !bytes.Equal(p.Checkpoint, recordProof.Checkpoint) {
		add(StepDelivery, false, "the delivery is proved to another checkpoint than the record")
		return
	}
	if _, err := ledger.VerifyProof(p, []byte(d.Entry), v); err != nil || p.Index != d.Index {
		add(StepDelivery, false, "delivery entry %d: %s", d.Index, errText(err, "index mismatch"))
		return
	}
	var det struct {
		RemoteHost string `json:"remote_host"`
		RemoteIP   string `json:"remote_ip"`
		Reply      string `json:"reply"`
		Time       string `json:"time"`
	}
	_ = json.Unmarshal([]byte(d.Detail), &det)
	add(StepDelivery, true, "entry %d: accepted by %s [%s] at %s: %q", d.Index, det.RemoteHost, det.RemoteIP, det.Time, det.Reply)
}
