package message_test

import (
	"fmt"

	"github.com/resguardo/resguardo/internal/message"
)

func ExampleParse() {
	raw := []byte("From: =?ISO-8859-1?Q?Mar=EDa_R=EDos?= <mrios@Finanzas.example.mx>\r\n" +
		"Date: Mon, 3 Jun 2024 10:15:42 -0600 (CST)\r\n" +
		"Subject: =?ISO-8859-1?Q?Acta_de_sesi=F3n?=\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n" +
		"\r\n" +
		"--b\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Se adjunta el acta.\r\n" +
		"--b\r\n" +
		"Content-Type: application/pdf\r\n" +
		"Content-Disposition: attachment; filename*=iso-8859-1''Acta%20de%20sesi%F3n.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"JVBERi0xLjQK\r\n" +
		"--b--\r\n")
	m := message.Parse(raw, message.Limits{})
	fmt.Println(m.From[0].Name, m.From[0].Address)
	fmt.Println(m.Date.UTC(), m.Subject)
	for _, p := range m.Attachments() {
		body, _ := message.DecodePart(raw, p)
		fmt.Printf("%s %s %q %d bytes %q\n", p.Path, p.ContentType, p.Filename, p.Size, body)
	}
	fmt.Println("malformed:", m.Malformed())
	// Output:
	// María Ríos mrios@finanzas.example.mx
	// 2024-06-03 16:15:42 +0000 UTC Acta de sesión
	// 2 application/pdf "Acta de sesión.pdf" 9 bytes "%PDF-1.4\n"
	// malformed: false
}
