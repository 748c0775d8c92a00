package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/resguardo/resguardo/internal/constancia"
)

// stepNames are the verification steps as people read them.
var stepNames = map[string][2]string{
	constancia.StepDocument:   {"Constancia legible", "Constancia readable"},
	constancia.StepMessage:    {"El mensaje es el de la constancia (SHA-256)", "The message is the one in the constancia (SHA-256)"},
	constancia.StepMetadata:   {"Metadatos íntegros", "Metadata intact"},
	constancia.StepEntry:      {"Entrada de la bitácora corresponde al mensaje", "Ledger entry matches the message"},
	constancia.StepCheckpoint: {"Punto de control firmado por la bitácora", "Checkpoint signed by the ledger"},
	constancia.StepInclusion:  {"Prueba de inclusión en el árbol de Merkle", "Merkle inclusion proof"},
	constancia.StepTimestamp:  {"Sello de tiempo RFC 3161 sobre el punto de control", "RFC 3161 timestamp over the checkpoint"},
	constancia.StepSignature:  {"Firma CMS de la constancia", "CMS signature of the constancia"},
	constancia.StepNewer:      {"Punto de control posterior consistente con el de la constancia", "Later checkpoint consistent with the constancia's"},
	constancia.StepWitnesses:  {"Testigos independientes cofirmaron el punto de control", "Independent witnesses cosigned the checkpoint"},
	constancia.StepDelivery:   {"Entrega registrada en la bitácora (servidor, conexión, respuesta)", "Delivery recorded in the ledger (server, connection, reply)"},
	constancia.StepStatement:  {"La declaración dice exactamente los hechos verificados", "The statement says exactly the verified facts"},
	constancia.StepAnchor:     {"Constancia NOM-151 de un PSC sobre un punto de control que incluye el mensaje", "NOM-151 constancia from a PSC over a checkpoint that includes the message"},
}

func runVerify(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	p7sPath := fs.String("p7s", "", "constancia.p7s to check as well")
	logKey := fs.String("log-key", "", "the ledger's public key (text, or a file holding it) to pin")
	tsaCA := fs.String("tsa-ca", "", "PEM/DER certificate(s) of the timestamp authority to trust")
	caPath := fs.String("ca", "", "PEM/DER certificate(s) trusted for --p7s signers: the institution's CA, and the SAT's for e.firma co-signatures (comma-separated files)")
	pscCA := fs.String("psc-ca", "", "PEM/DER certificate(s) of the accredited PSC, for a NOM-151 anchor")
	witnesses := fs.String("witness", "", "witness public keys (text or files), comma-separated, whose cosignatures are required")
	needW := fs.Int("witnesses", 0, "how many of --witness must have cosigned (default: all)")
	newer := fs.String("newer", "", "a later signed checkpoint (e.g. a published one) to verify against")
	consistency := fs.String("consistency", "", "`ledger consistency --json` output from the constancia's tree size to --newer's")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &exitError{code: 2, err: errors.New("usage: resguardo verify MESSAGE.eml constancia.json [--p7s F] [--log-key K] [--tsa-ca F] [--ca F]")}
	}
	msg, err := os.ReadFile(pos[0])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	doc, err := os.ReadFile(pos[1])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	opt := constancia.Options{Now: time.Now()}
	if *logKey != "" {
		opt.LogKey = *logKey
		if b, err := os.ReadFile(*logKey); err == nil {
			opt.LogKey = strings.TrimSpace(string(b))
		}
	}
	if *tsaCA != "" {
		if opt.TSARoots, err = readCerts(*tsaCA); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--tsa-ca: %w", err)}
		}
	}
	for _, w := range strings.Split(*witnesses, ",") {
		if w != "" {
			opt.Witnesses = append(opt.Witnesses, keyArg(w))
		}
	}
	opt.RequiredWitnesses = *needW
	if (*newer == "") != (*consistency == "") {
		return &exitError{code: 2, err: errors.New("verify: --newer and --consistency go together")}
	}
	if *newer != "" {
		if opt.Newer, err = os.ReadFile(*newer); err != nil {
			return &exitError{code: 2, err: err}
		}
		b, err := os.ReadFile(*consistency)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		var lc ledgerConsistency
		if err := json.Unmarshal(b, &lc); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--consistency: %w", err)}
		}
		for _, h := range lc.Proof {
			hh, err := tlog.ParseHash(h)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--consistency: %w", err)}
			}
			opt.Consistency = append(opt.Consistency, hh)
		}
	}
	if *pscCA != "" {
		if opt.PSCRoots, err = readCerts(*pscCA); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--psc-ca: %w", err)}
		}
	}
	for _, f := range strings.Split(*caPath, ",") {
		if f == "" {
			continue
		}
		certs, err := readCerts(f)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--ca: %w", err)}
		}
		opt.CARoots = append(opt.CARoots, certs...)
	}
	if *p7sPath != "" {
		if opt.P7S, err = os.ReadFile(*p7sPath); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	rep := constancia.Verify(msg, doc, opt)
	if *jsonOut {
		if err := writeJSON(m, rep); err != nil {
			return err
		}
	} else {
		m.printReport(rep)
	}
	if !rep.OK {
		return &exitError{code: 1, err: fmt.Errorf("verification failed at step %q", rep.Failed())}
	}
	return nil
}

func (m *Main) printReport(r *constancia.Report) {
	en := m.P.Lang == "en"
	for _, s := range r.Steps {
		mark := "✓"
		if !s.OK {
			mark = "✗"
		}
		name := stepNames[s.Key][0]
		if en {
			name = stepNames[s.Key][1]
		}
		fmt.Fprintf(m.Stdout, "%s %s\n    %s\n", mark, name, s.Detail)
	}
	for _, sg := range r.Signers {
		who := sg.Subject
		if sg.RFC != "" {
			who += " (RFC " + sg.RFC + ", CURP " + sg.CURP + ")"
		}
		if en {
			fmt.Fprintf(m.Stdout, "  signed by %s on %s\n", who, sg.SigningTime.Format(time.RFC3339))
		} else {
			fmt.Fprintf(m.Stdout, "  firmada por %s el %s\n", who, sg.SigningTime.Format(time.RFC3339))
		}
	}
	for _, w := range r.Warnings {
		if en {
			fmt.Fprintf(m.Stdout, "! %s\n", w)
		} else {
			fmt.Fprintf(m.Stdout, "! aviso: %s\n", w)
		}
	}
	if r.OK {
		t := r.Time.UTC().Format(time.RFC3339)
		if en {
			fmt.Fprintf(m.Stdout, "\nVERIFIED: these exact bytes were entry %d of the ledger no later than %s (timestamp by %s) and have not changed since.\n", r.Index, t, r.Authority)
		} else {
			fmt.Fprintf(m.Stdout, "\nVERIFICADA: estos bytes exactos eran la entrada %d de la bitácora a más tardar el %s (sello de %s) y no han cambiado desde entonces.\n", r.Index, t, r.Authority)
		}
	}
}
