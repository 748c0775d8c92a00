package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// EntryVersion is the version of the entry formats written now.
const EntryVersion = 1

// Entry types.
const (
	TypeRecord = "record"
)

// RecordEntry is the ledger entry of one archived record (docs/FORMATS.md). Its
// canonical encoding is the JSON object below with the keys in exactly this order, no
// insignificant whitespace, no HTML escaping; verifiers hash the bytes as stored and
// never need to re-encode.
type RecordEntry struct {
	V          int    `json:"v"`
	Type       string `json:"type"`
	SHA256     string `json:"sha256"`      // of the message bytes, hex
	Size       int64  `json:"size"`        // bytes
	Channel    string `json:"channel"`     // import, mx, submission, journal
	Time       string `json:"time"`        // archive time, RFC 3339 UTC with nanoseconds
	MetaSHA256 string `json:"meta_sha256"` // of the record's canonical metadata document
}

// NewRecordEntry returns the canonical entry for a record archived at t.
func NewRecordEntry(sha256Hex string, size int64, channel string, t time.Time, metaSHA256Hex string) ([]byte, error) {
	b, err := Canonical(RecordEntry{
		V: EntryVersion, Type: TypeRecord, SHA256: sha256Hex, Size: size,
		Channel: channel, Time: FormatTime(t), MetaSHA256: metaSHA256Hex,
	})
	if err == nil && len(b) > maxEntrySize {
		err = fmt.Errorf("ledger entry of %d bytes exceeds %d", len(b), maxEntrySize)
	}
	return b, err
}

// FormatTime renders t as entries and metadata do: UTC, RFC 3339, nanoseconds.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// Canonical encodes v as compact JSON without HTML escaping (struct field order is
// the key order).
func Canonical(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseRecordEntry decodes a record entry and checks that it is canonical.
func ParseRecordEntry(b []byte) (RecordEntry, error) {
	var e RecordEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("ledger entry: %w", err)
	}
	if e.Type != TypeRecord || e.V != EntryVersion {
		return e, fmt.Errorf("ledger entry: not a v%d %s entry", EntryVersion, TypeRecord)
	}
	if c, err := Canonical(e); err != nil || !bytes.Equal(c, b) {
		return e, fmt.Errorf("ledger entry: not in canonical form")
	}
	return e, nil
}

// TypeAccess is the entry type of an access to the archive (search, read, export).
const TypeAccess = "access"

// AccessEntry is the ledger entry of one access. The details (who, what query, how
// many results) stay in the catalog's access log; the entry commits to their
// canonical document by digest, so that published tiles reveal no query text.
type AccessEntry struct {
	V            int    `json:"v"`
	Type         string `json:"type"`
	Time         string `json:"time"`
	Action       string `json:"action"` // search, export, read, …
	DetailSHA256 string `json:"detail_sha256"`
}

// NewAccessEntry returns the canonical access entry.
func NewAccessEntry(t time.Time, action, detailSHA256Hex string) ([]byte, error) {
	return Canonical(AccessEntry{V: EntryVersion, Type: TypeAccess, Time: FormatTime(t), Action: action, DetailSHA256: detailSHA256Hex})
}

// TypeDelivery is the entry type of a remote server's acceptance of a relayed
// message (issue 5).
const TypeDelivery = "delivery"

// DeliveryEntry is the ledger entry of one delivery: which message (its SHA-256, as in
// its record entry) and the digest of the canonical detail document (remote host,
// IP, TLS, the server's reply, recipients), which stays in the catalog so that the
// published tiles reveal no addresses.
type DeliveryEntry struct {
	V            int    `json:"v"`
	Type         string `json:"type"`
	Time         string `json:"time"`
	SHA256       string `json:"sha256"`
	DetailSHA256 string `json:"detail_sha256"`
}

// NewDeliveryEntry returns the canonical delivery entry.
func NewDeliveryEntry(t time.Time, sha256Hex, detailSHA256Hex string) ([]byte, error) {
	return Canonical(DeliveryEntry{V: EntryVersion, Type: TypeDelivery, Time: FormatTime(t), SHA256: sha256Hex, DetailSHA256: detailSHA256Hex})
}

// ParseDeliveryEntry decodes a delivery entry and checks that it is canonical.
func ParseDeliveryEntry(b []byte) (DeliveryEntry, error) {
	var e DeliveryEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("ledger entry: %w", err)
	}
	if e.Type != TypeDelivery || e.V != EntryVersion {
		return e, fmt.Errorf("ledger entry: not a v%d %s entry", EntryVersion, TypeDelivery)
	}
	if c, err := Canonical(e); err != nil || !bytes.Equal(c, b) {
		return e, fmt.Errorf("ledger entry: not in canonical form")
	}
	return e, nil
}
