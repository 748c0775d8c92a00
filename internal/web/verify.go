package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/resguardo/resguardo/internal/constancia"
	"github.com/resguardo/resguardo/internal/i18n"
)

// VerifyFunc checks a message against a constancia (and optionally its .p7s) with
// the trust anchors the server pins. It must not store anything.
type VerifyFunc func(message, doc, p7s []byte) *constancia.Report

// maxUpload bounds what the public page accepts (message + constancia + signature).
const maxUpload = 64 << 20

type verifyPage struct {
	Lang    string
	T       func(string) string
	ID      string
	Report  *constancia.Report
	Steps   []verifyStep
	Error   string
	Time    string
	Checked bool
}

type verifyStep struct {
	OK     bool
	Name   string
	Detail string
}

func (s *Server) handleVerifyForm(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	id := r.URL.Query().Get("id")
	if len(id) > 64 {
		id = id[:64]
	}
	s.renderVerify(w, verifyPage{Lang: string(l), T: func(k string) string { return verifyText(l, k) }, ID: id})
}

// handleVerify reads the uploaded files into memory (never to disk: multipart
// parts are streamed with a size limit), verifies them, and renders the steps.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	l := lang(r)
	page := verifyPage{Lang: string(l), T: func(k string) string { return verifyText(l, k) }, Checked: true}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	files, err := readUploads(r)
	switch {
	case err != nil:
		page.Error = verifyText(l, "err.upload")
		w.WriteHeader(http.StatusBadRequest)
	case len(files["mensaje"]) == 0 || len(files["constancia"]) == 0:
		page.Error = verifyText(l, "err.missing")
		w.WriteHeader(http.StatusBadRequest)
	default:
		rep := s.opt.Verify(files["mensaje"], files["constancia"], files["firma"])
		page.Report = rep
		for _, st := range rep.Steps {
			page.Steps = append(page.Steps, verifyStep{OK: st.OK, Name: verifyText(l, "step."+st.Key), Detail: st.Detail})
		}
		if rep.OK {
			page.Time = rep.Time.In(s.opt.TZ).Format("2006-01-02 15:04:05 MST")
		}
	}
	s.renderVerify(w, page)
}

func readUploads(r *http.Request) (map[string][]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch name := p.FormName(); name {
		case "mensaje", "constancia", "firma":
			var b bytes.Buffer
			if _, err := io.Copy(&b, io.LimitReader(p, maxUpload)); err != nil {
				return nil, err
			}
			out[name] = b.Bytes()
		default:
			io.Copy(io.Discard, p)
		}
		p.Close()
	}
}

func (s *Server) renderVerify(w http.ResponseWriter, p verifyPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.tmpl.ExecuteTemplate(w, "verify.html", p); err != nil {
		s.opt.Logger.Error("render verify", "err", err)
	}
}

func verifyText(l i18n.Lang, k string) string {
	es := map[string]string{
		"title":           "Resguardo — verificar una constancia",
		"heading":         "Verificar un mensaje y su constancia",
		"intro":           "Suba el mensaje (.eml) y su constancia (constancia.json, y si la tiene, constancia.p7s). La verificación se hace aquí mismo con las claves públicas de esta institución; nada de lo que suba se guarda.",
		"record":          "Constancia del registro",
		"f.msg":           "Mensaje (.eml)",
		"f.doc":           "Constancia (constancia.json)",
		"f.p7s":           "Firma de la constancia (constancia.p7s, opcional)",
		"submit":          "Verificar",
		"ok":              "VERIFICADA",
		"ok.text":         "Estos bytes exactos formaban parte del archivo a más tardar el",
		"ok.text2":        "y no han cambiado desde entonces.",
		"fail":            "NO VERIFICADA",
		"fail.text":       "Falló el paso marcado con ✗: el mensaje o la constancia no corresponden, o fueron alterados.",
		"note":            "Esta verificación acredita integridad y fecha; no califica el contenido del mensaje ni su valor probatorio.",
		"err.upload":      "No se pudieron leer los archivos (¿más de 64 MiB?).",
		"err.missing":     "Suba al menos el mensaje y la constancia.",
		"other":           "English",
		"step.document":   "Constancia legible",
		"step.message":    "El mensaje es el de la constancia (SHA-256)",
		"step.metadata":   "Metadatos íntegros",
		"step.entry":      "Entrada de la bitácora corresponde al mensaje",
		"step.checkpoint": "Punto de control firmado por la bitácora",
		"step.inclusion":  "Prueba de inclusión en el árbol de Merkle",
		"step.timestamp":  "Sello de tiempo RFC 3161",
		"step.signature":  "Firma CMS de la constancia",
		"step.delivery":   "Entrega registrada en la bitácora (servidor, conexión, respuesta)",
		"step.statement":  "La declaración dice exactamente los hechos verificados",
	}
	en := map[string]string{
		"title":           "Resguardo — verify a constancia",
		"heading":         "Verify a message and its constancia",
		"intro":           "Upload the message (.eml) and its constancia (constancia.json, and constancia.p7s if you have it). Verification runs here with this institution's public keys; nothing you upload is stored.",
		"record":          "Constancia of record",
		"f.msg":           "Message (.eml)",
		"f.doc":           "Constancia (constancia.json)",
		"f.p7s":           "Constancia signature (constancia.p7s, optional)",
		"submit":          "Verify",
		"ok":              "VERIFIED",
		"ok.text":         "These exact bytes were part of the archive no later than",
		"ok.text2":        "and have not changed since.",
		"fail":            "NOT VERIFIED",
		"fail.text":       "The step marked ✗ failed: the message and the constancia do not match, or were altered.",
		"note":            "This verification proves integrity and time; it does not judge the message's content or its weight as evidence.",
		"err.upload":      "The files could not be read (over 64 MiB?).",
		"err.missing":     "Upload at least the message and the constancia.",
		"other":           "Español",
		"step.document":   "Constancia readable",
		"step.message":    "The message is the one in the constancia (SHA-256)",
		"step.metadata":   "Metadata intact",
		"step.entry":      "Ledger entry matches the message",
		"step.checkpoint": "Checkpoint signed by the ledger",
		"step.inclusion":  "Merkle inclusion proof",
		"step.timestamp":  "RFC 3161 timestamp",
		"step.signature":  "CMS signature of the constancia",
		"step.delivery":   "Delivery recorded in the ledger (server, connection, reply)",
		"step.statement":  "The statement says exactly the verified facts",
	}
	if l == i18n.EN {
		return en[k]
	}
	return es[k]
}
