package extract

import (
	"context"
	"errors"
	"testing"
)

func TestKinds(t *testing.T) {
	docx := zipOf(t, docxFixture())
	for _, tc := range []struct {
		name, ct, fn string
		data         []byte
		kind         string
		err          error
	}{
		{"pdf named txt", "text/plain", "a.txt", minimalPDF(), "pdf", nil},
		{"pdf after junk", "", "", append([]byte("\r\n\r\njunk"), minimalPDF()...), "pdf", nil},
		{"docx as octet-stream", "application/octet-stream", "PO.docx", docx, "docx", nil},
		{"docx as image", "image/jpeg", "foto.jpg", docx, "docx", nil},
		{"rtf as msword", "application/msword", "carta.doc", []byte(`{\rtf1 hola}`), "rtf", nil},
		{"ole2 doc", "application/msword", "carta.doc", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"), "unsupported", ErrUnsupported},
		{"png", "image/png", "logo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00"), "unsupported", ErrUnsupported},
		{"png labelled text", "text/plain", "test.rtf", []byte("\x89PNG\r\n\x1a\n\x00\x00"), "unsupported", ErrUnsupported},
		{"pdf without signature", "application/pdf", "boleto.pdf", []byte("no es un pdf"), "pdf", ErrCorrupt},
		{"pdf label, text content", "text/plain", "boleto.pdf", []byte("no es un pdf"), "text", nil},
		{"empty pdf", "application/pdf", "vacío.pdf", nil, "pdf", nil},
		{"docx not zip", "", "x.docx", []byte("hola"), "docx", ErrCorrupt},
		{"html by name", "application/octet-stream", "aviso.htm", []byte("<p>hola</p>"), "html", nil},
		{"html sniffed", "", "", []byte("\n<!DOCTYPE html><p>hola</p>"), "html", nil},
		{"eml by name", "application/octet-stream", "reenvio.eml", []byte("Subject: hola\r\n\r\ncuerpo"), "message", nil},
		{"message sniffed", "", "", []byte("Return-Path: <a@b>\r\nSubject: hola\r\n\r\ncuerpo"), "message", nil},
		{"csv by name", "text/plain", "datos.csv", []byte("a,b\n1,2\n"), "csv", nil},
		{"tsv", "text/tab-separated-values", "", []byte("a\tb\n1\t2\n"), "csv", nil},
		{"calendar", "text/calendar", "cita.ics", []byte("BEGIN:VCALENDAR\nSUMMARY:Reunión\nEND:VCALENDAR"), "text", nil},
		{"patch octet-stream", "application/octet-stream", "x.patch", []byte("--- a\n+++ b\n"), "text", nil},
		{"unknown binary", "application/octet-stream", "", []byte{1, 2, 3, 0, 5, 6}, "unsupported", ErrUnsupported},
		{"unknown text", "application/x-foo", "", []byte("texto plano"), "text", nil},
		{"zip archive", "application/zip", "a.zip", zipOf(t, [][2]string{{"a.txt", "x"}}), "unsupported", ErrUnsupported},
		{"broken zip named xlsx", "", "libro.xlsx", []byte("PK\x03\x04roto"), "xlsx", ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Text(context.Background(), tc.data, tc.ct, tc.fn, Limits{})
			if res.Kind != tc.kind || !errors.Is(res.Err, tc.err) || (tc.err == nil) != (res.Err == nil) {
				t.Errorf("kind %q err %v, want %q %v", res.Kind, res.Err, tc.kind, tc.err)
			}
		})
	}
}

func TestRTF(t *testing.T) {
	test := func(in, want string) {
		t.Helper()
		res := Text(context.Background(), []byte(in), "application/rtf", "", Limits{})
		if res.Text != want || res.Err != nil || res.Kind != "rtf" {
			t.Errorf("%q: kind %q err %v text %q, want %q", in, res.Kind, res.Err, res.Text, want)
		}
	}
	test(`{\rtf1\ansi\ansicpg1252 Se\'f1or\par Caf\'e9}`, "Señor\nCafé")
	test(`{\rtf1\ansi\ansicpg1251 \'c4\'e0}`, "Да")
	test(`{\rtf1\ansi\ansicpg932 \'82\'a0\'82\'a2}`, "あい")
	test(`{\rtf1\ansi\ansicpg936 \'d6\'d0\'ce\'c4}`, "中文")
	test(`{\rtf1\uc1 \u-3913?\u8364? x\uc2\u241\'f1\'f1 y}`, "\uf0b7€ xñ y")
	test(`{\rtf1 \uc0\u55357\u56832 fin}`, "😀fin") // the blank ends the control word
	test(`{\rtf1 a{\*\unknown oculto}b{\pict 89504e47}c\bin2 {}d}`, "abcd")
	test(`{\rtf1 {\fonttbl{\f0 Arial;}}{\stylesheet{\s1 Normal;}}texto\~duro\-\_x\{\}\\}`, "texto duro-x{}\\")
	test(`{\rtf1 \trowd a\cell b\cell\row c}`, "a b\nc")
	test(`{\rtf1 sin cerrar`, "sin cerrar")
	test(`{\rtf1 }}}} extra`, "extra")
}
