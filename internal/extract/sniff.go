package extract

import (
	"bytes"
	"path"
	"strings"
)

// mediaType returns the lowercased type/subtype of a Content-Type value.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// extension returns the lowercased extension of a filename, without the dot.
func extension(name string) string {
	name = strings.TrimSpace(strings.ReplaceAll(name, "\\", "/"))
	return strings.TrimPrefix(strings.ToLower(path.Ext(name)), ".")
}

// claimedKind is the kind that the MIME type, or failing that the filename
// extension, announces: "" when neither says anything useful, "unsupported"
// when they name a format without text (images, audio, archives).
func claimedKind(mt, ext string) string {
	switch mt {
	case "text/html", "application/xhtml+xml":
		return "html"
	case "text/csv", "text/comma-separated-values", "application/csv", "text/tab-separated-values":
		return "csv"
	case "text/rtf", "application/rtf", "application/x-rtf", "text/richtext+rtf":
		return "rtf"
	case "message/rfc822", "message/global", "message/news":
		return "message"
	case "application/pdf", "application/x-pdf", "application/acrobat":
		return "pdf"
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.ms-word.document.macroenabled.12",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.template":
		return "docx"
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-excel.sheet.macroenabled.12",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.template":
		return "xlsx"
	case "application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/vnd.ms-powerpoint.presentation.macroenabled.12",
		"application/vnd.openxmlformats-officedocument.presentationml.slideshow":
		return "pptx"
	case "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template":
		return "odt"
	case "application/vnd.oasis.opendocument.spreadsheet", "application/vnd.oasis.opendocument.spreadsheet-template":
		return "ods"
	case "application/vnd.oasis.opendocument.presentation", "application/vnd.oasis.opendocument.presentation-template":
		return "odp"
	case "application/json", "application/xml", "application/x-sh", "application/javascript",
		"application/pgp-signature", "application/pgp-keys", "application/x-patch", "application/x-diff":
		return "text"
	case "", "application/octet-stream", "application/x-download", "application/download",
		"application/force-download", "application/unknown", "binary/octet-stream", "application/binary":
		return extKind(ext)
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		switch k := extKind(ext); k {
		case "csv", "html", "message":
			return k // text/plain "x.csv", "x.html"
		}
		return "text"
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"),
		strings.HasPrefix(mt, "font/"), strings.HasPrefix(mt, "model/"), strings.HasPrefix(mt, "multipart/"):
		return "unsupported"
	case strings.HasSuffix(mt, "+xml"), strings.HasSuffix(mt, "+json"):
		return "text"
	}
	return extKind(ext)
}

// extKind maps a filename extension to a kind ("" when unknown).
func extKind(ext string) string {
	switch ext {
	case "txt", "text", "log", "md", "asc", "patch", "diff", "ics", "vcf", "json", "xml", "ini", "conf", "cfg", "c", "h", "go", "py", "sh":
		return "text"
	case "htm", "html", "xhtml":
		return "html"
	case "csv", "tsv":
		return "csv"
	case "rtf":
		return "rtf"
	case "eml", "msg822":
		return "message"
	case "pdf":
		return "pdf"
	case "docx", "docm", "dotx", "dotm":
		return "docx"
	case "xlsx", "xlsm", "xltx", "xltm":
		return "xlsx"
	case "pptx", "pptm", "ppsx", "potx":
		return "pptx"
	case "odt", "ott":
		return "odt"
	case "ods", "ots":
		return "ods"
	case "odp", "otp":
		return "odp"
	case "doc", "xls", "ppt", "msg", "zip", "gz", "tgz", "7z", "rar", "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp",
		"heic", "mp3", "mp4", "wav", "ogg", "avi", "mov", "exe", "dll", "bin", "p7s", "p7m", "dat":
		return "unsupported"
	}
	return ""
}

// sniffMagic recognises content by its first bytes: "pdf", "rtf", "zip",
// "binary" for known formats without text, "" otherwise.
func sniffMagic(b []byte) string {
	head := b[:min(len(b), 1024)]
	if i := bytes.Index(head, []byte("%PDF-")); i >= 0 && i+5 < len(b) && b[i+5] >= '1' && b[i+5] <= '2' {
		return "pdf"
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(b[:min(len(b), 64)], []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(t, []byte(`{\rtf`)) {
		return "rtf"
	}
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return "zip"
	case bytes.HasPrefix(b, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")), // OLE2: .doc, .xls, .ppt, .msg
		bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")),
		bytes.HasPrefix(b, []byte("\xff\xd8\xff")),
		bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")),
		bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")),
		bytes.HasPrefix(b, []byte("\x1f\x8b")), bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")),
		bytes.HasPrefix(b, []byte("Rar!\x1a\x07")), bytes.HasPrefix(b, []byte("\x7fELF")),
		bytes.HasPrefix(b, []byte("BZh")) && len(b) > 3 && b[3] >= '1' && b[3] <= '9',
		bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")), bytes.HasPrefix(b, []byte("\x78\x9f\x3e\x22")), // TNEF
		len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && (string(b[8:12]) == "WEBP" || string(b[8:12]) == "WAVE" || string(b[8:12]) == "AVI "),
		len(b) >= 12 && string(b[4:8]) == "ftyp":
		return "binary"
	}
	return ""
}

// sniffText classifies content that no label or signature describes:
// "html", "message", "text", or "" for binary data.
func sniffText(b []byte) string {
	head := b[:min(len(b), 8192)]
	if !looksLikeText(head) {
		return ""
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	lower := bytes.ToLower(t[:min(len(t), 64)])
	for _, p := range []string{"<!doctype html", "<html", "<head", "<body", "<?xml version=\"1.0\"?>\n<!doctype html"} {
		if bytes.HasPrefix(lower, []byte(p)) {
			return "html"
		}
	}
	if looksLikeMessage(t) {
		return "message"
	}
	return "text"
}

// looksLikeText reports whether b has no NUL and almost no other control
// bytes (a binary file has plenty in its first kilobytes).
func looksLikeText(b []byte) bool {
	ctl := 0
	for _, c := range b {
		switch {
		case c == 0:
			return false
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b:
			ctl++
		}
	}
	return ctl*100 <= len(b)
}

// looksLikeMessage reports whether b starts with a header section whose
// first field is one that messages start with.
func looksLikeMessage(b []byte) bool {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	switch strings.ToLower(string(line[:colon])) {
	case "return-path", "received", "from", "date", "message-id", "mime-version", "subject", "delivered-to",
		"to", "x-mozilla-status", "dkim-signature", "arc-seal", "authentication-results":
		return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\r\n\r\n")) || !bytes.Contains(b, []byte("\n"))
	}
	return false
}

// quickKind names the kind of data without parsing it (for ErrTooLarge).
func quickKind(data []byte, contentType, filename string) string {
	claimed := claimedKind(mediaType(contentType), extension(filename))
	switch sniffMagic(data) {
	case "pdf", "rtf":
		return sniffMagic(data)
	case "zip":
		if isZipKind(claimed) {
			return claimed
		}
		return "unsupported"
	case "binary":
		return "unsupported"
	}
	if claimed == "" {
		claimed = sniffText(data)
	}
	if claimed == "" {
		return "unsupported"
	}
	return claimed
}

func isZipKind(k string) bool {
	switch k {
	case "docx", "xlsx", "pptx", "odt", "ods", "odp":
		return true
	}
	return false
}
