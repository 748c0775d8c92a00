package export

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/constancia"
)

// Seal is the signed summary of an export: it fixes the manifests by digest,
// so the recipient can check that the export is complete and unaltered.
type Seal struct {
	Format         string `json:"format"` // "resguardo-export/1"
	Created        string `json:"created"`
	Issuer         string `json:"issuer"`
	Query          string `json:"query"`
	Count          int64  `json:"count"`
	Bytes          int64  `json:"bytes"`
	ManifestJSON   string `json:"manifest_json_sha256"`
	ManifestCSV    string `json:"manifest_csv_sha256"`
	Messages       string `json:"messages_sha256"` // SHA-256 over the concatenated message SHA-256s, in manifest order
	LedgerOrigin   string `json:"ledger_origin"`
	LedgerAccessAt int64  `json:"ledger_access_index"`
}

// Finish closes the manifests, logs the export in the access ledger, signs the
// seal and writes the manifests, the seal and what a recipient needs to verify.
func (e *Exporter) Finish(ctx context.Context, q string) (*Result, error) {
	io.WriteString(io.MultiWriter(e.manJSON, e.jsonHash), "\n]\n")
	e.csvW.Flush()
	if err := e.csvW.Error(); err != nil {
		return nil, err
	}
	manifestSum := hex.EncodeToString(e.jsonHash.Sum(nil))
	idx, err := e.opt.LogAccess(ctx, archive.AccessDetail{Actor: e.opt.Actor, Via: e.opt.Via, Action: "export", Query: q, Results: e.count,
		Records: e.ids, Manifest: manifestSum, Justification: e.opt.Justification})
	if err != nil {
		return nil, fmt.Errorf("export not logged: %w", err)
	}
	seal := Seal{Format: "resguardo-export/1", Created: time.Now().UTC().Format(time.RFC3339), Issuer: e.opt.Issuer,
		Query: q, Count: e.count, Bytes: e.bytes, ManifestJSON: manifestSum, ManifestCSV: hex.EncodeToString(e.csvHash.Sum(nil)),
		Messages: hex.EncodeToString(e.msgsHash.Sum(nil)), LedgerOrigin: e.opt.Origin, LedgerAccessAt: idx}
	sealJSON, err := json.MarshalIndent(seal, "", "  ")
	if err != nil {
		return nil, err
	}
	sealJSON = append(sealJSON, '\n')
	p7s, err := constancia.Sign(sealJSON, e.opt.Cert.Cert, e.opt.Cert.Key, nil)
	if err != nil {
		return nil, err
	}
	extra := []struct {
		name string
		data []byte
	}{{"sello.json", sealJSON}, {"sello.p7s", p7s}, {"LEEME.txt", []byte(Readme)}, {"certificados/ca-institucion.pem", e.opt.Cert.CAPEM},
		{"certificados/ledger.pub", []byte(e.opt.LedgerKey + "\n")}}
	for i, anchor := range e.opt.Anchors {
		extra = append(extra, struct {
			name string
			data []byte
		}{fmt.Sprintf("certificados/ca-sello-de-tiempo-%d.pem", i+1), []byte(anchor)})
	}
	if e.opt.Format == "zip" {
		for _, t := range []struct {
			name string
			f    *os.File
		}{{"manifest.json", e.manJSON}, {"manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			w, err := e.zw.Create(t.name)
			if err != nil {
				return nil, err
			}
			if _, err := io.Copy(w, t.f); err != nil {
				return nil, err
			}
		}
		for _, x := range extra {
			if err := e.zipFile(x.name, x.data, time.Now()); err != nil {
				return nil, err
			}
		}
		if err := e.zw.Close(); err != nil {
			return nil, err
		}
	} else {
		if err := e.mbox.Flush(); err != nil {
			return nil, err
		}
		for _, t := range []struct {
			suffix string
			f      *os.File
		}{{".manifest.json", e.manJSON}, {".manifest.csv", e.manCSV}} {
			if _, err := t.f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			b, err := io.ReadAll(t.f)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(e.path+t.suffix, b, 0o600); err != nil {
				return nil, err
			}
		}
		for _, x := range extra {
			name := e.path + "." + strings.ReplaceAll(x.name, "/", "-")
			if err := os.WriteFile(name, x.data, 0o600); err != nil {
				return nil, err
			}
		}
	}
	if err := e.f.Sync(); err != nil {
		return nil, err
	}
	if err := e.f.Close(); err != nil {
		return nil, err
	}
	e.f = nil
	for _, t := range []*os.File{e.manJSON, e.manCSV} {
		t.Close()
		os.Remove(t.Name())
	}
	return &Result{Count: e.count, Bytes: e.bytes, Pending: e.pending, Manifest: manifestSum, LedgerIndex: idx, IDs: e.ids}, nil
}

// Readme is LEEME.txt: what the package holds and how to verify it.
const Readme = `Exportación de Resguardo (formato resguardo-export/1)

mensajes/       cada mensaje exactamente como llegó (el nombre es su SHA-256)
constancias/    la constancia de cada mensaje, cuando ya tenía sello de tiempo
manifest.json   la lista completa (también manifest.csv)
sello.json      resumen firmado: número de mensajes y huellas SHA-256 de los manifiestos
sello.p7s       firma CMS de sello.json por la institución
certificados/   CA de la institución, CA del sello de tiempo, clave pública de la bitácora

Verificar que la exportación está completa y sin cambios:
  openssl cms -verify -binary -inform DER -in sello.p7s -content sello.json -CAfile certificados/ca-institucion.pem -out /dev/null
  sha256sum manifest.json manifest.csv      (deben coincidir con sello.json)
  sha256sum mensajes/*.eml                  (cada nombre es la huella de su contenido)
  resguardo verify mensajes/ID.eml constancias/ID.json --log-key certificados/ledger.pub --tsa-ca certificados/ca-sello-de-tiempo-1.pem
La exportación quedó registrada en la bitácora de accesos (sello.json: ledger_access_index).
`
