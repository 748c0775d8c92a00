package relay

import (
	"bufio"
	"bytes"
	"net/mail"
	"net/textproto"
	"strings"
)

// header parses the message's header section (nil when it cannot be read).
func header(data []byte) textproto.MIMEHeader {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(data)
	} else {
		end += 4
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data[:end]))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil
	}
	return h
}

// fromDomain is the domain of the From header's first address ("" if none).
func fromDomain(data []byte) string {
	h := header(data)
	if h == nil {
		return ""
	}
	list, err := mail.ParseAddressList(h.Get("From"))
	if err != nil || len(list) == 0 {
		return ""
	}
	return domainOf(list[0].Address)
}

// messageID is the Message-ID field without brackets.
func messageID(data []byte) string {
	h := header(data)
	if h == nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
}

// hops counts the Received fields of a copy: more than maxHops means a loop.
func hops(data []byte) int {
	h := header(data)
	return len(h["Received"])
}

const maxHops = 50
