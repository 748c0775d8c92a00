// Package message reads the metadata and MIME structure of an Internet
// message as it was received: header fields (RFC 5322, with the obsolete
// syntax of its section 4 and UTF-8 header text of RFC 6532), MIME
// (RFC 2045, RFC 2046, RFC 2183 Content-Disposition), encoded words
// (RFC 2047), parameter value continuations and charsets (RFC 2231), and
// part numbers as IMAP defines them (RFC 3501 section 6.4.5).
//
// Parse never fails and never panics. Whatever the bytes hold, it returns a
// Message with what could be understood and a list of Defects for everything
// that departs from the RFCs. Bodies are not copied: each Part records the
// offset and length of its encoded body in the raw message, plus the size and
// SHA-256 of its decoded content, computed while decoding. DecodePart returns
// those same decoded bytes on demand.
//
// # Why not emersion/go-message (or net/mail + mime/multipart)
//
// An archive must accept every message it is handed and describe it
// faithfully; a parser that stops at the first error loses exactly the
// messages that most need a record. emersion/go-message (like net/mail with
// mime/multipart) returns an error at the first malformed header line (no
// colon, a first line starting with a blank), fails outright when a fixed
// limit is hit (1000 header lines, 4000-byte lines) instead of reporting it,
// reports an unknown charset or transfer encoding as an error, takes only LF
// as a line break, streams parts through readers so that byte offsets into
// the original are lost, and leaves nesting depth and part count unbounded.
// This package uses the standard library only as building blocks
// (mime.WordDecoder and net/mail for address lists that are not plain,
// net/mail.ParseDate as a last resort for dates, encoding/base64 for
// well-formed base64 lines) with golang.org/x/text for charsets.
//
// # Part paths
//
// Paths are IMAP part numbers. The body of a single-part message is "1".
// The children of a multipart are numbered from 1 under the multipart's own
// path ("1", "2", "2.1", ...; a top-level multipart has no number of its own).
// A message/rfc822 part is listed itself (as an attachment, with the size and
// hash of the whole encapsulated message) and then the parts inside it: its
// body is "N.1" when single-part, or "N.1", "N.2", ... when multipart.
// Multipart containers are not listed; a multipart whose parts cannot be found
// is listed as a leaf.
//
// # Line breaks
//
// CRLF, LF and bare CR are all accepted as line breaks, also mixed. Decoded
// quoted-printable keeps the line breaks as written. The line break before a
// boundary delimiter belongs to the delimiter (RFC 2046 section 5.1.1), so it
// is not part of the body, its size or its hash.
//
// # Header text
//
// Field values are unfolded (line breaks removed, blanks kept) and trimmed.
// UTF-8 is accepted as is (RFC 6532); other 8-bit text is read as
// windows-1252 and reported. NUL characters, raw or encoded, become U+FFFD in
// all strings (text columns cannot store them). Encoded words are decoded in Subject, display
// names and filenames as mail clients do (see decodeWords); charsets come from
// golang.org/x/text, WHATWG labels first (so iso-8859-1 is read as
// windows-1252, gb2312 as gbk), then the IANA registry. A part's Charset is the
// parameter as written, lowercased; no default is filled in.
//
// Address lists take three routes: plain ASCII lists are read directly (the
// common case, and fast), anything else goes to net/mail with a charset-aware
// mime.WordDecoder, and what net/mail rejects is split at top-level commas
// and each element searched for an angle-addr or addr-spec. Dates are read by
// a tokenizer that accepts the obsolete and common broken forms (see
// parseDate); bad-date is reported only when nothing works.
//
// # Defects
//
// Defect codes are stable. Part is the part path ("" for the top-level
// header); Detail is short English or header text, never body bytes. Identical
// defects are reported once, and at most 10 of one code are kept.
//
//	code                      meaning
//	nul-byte                  the message contains a NUL byte (reported once)
//	header-8bit               8-bit header text that is not UTF-8; read as windows-1252 (detail: field)
//	bad-header-line           a header line that is not a field: no colon, a continuation with no field,
//	                          an unfolded parameter line, or a line of blanks used as separator
//	missing-header-separator  the body starts without the empty line after the header
//	mbox-from-line            the message starts with an mbox "From " line (skipped)
//	header-limit              a header section over MaxHeaderBytes or MaxHeaderFields; the rest is body or ignored
//	duplicate-field           a field that may occur once occurs again; the first is used (detail: field)
//	missing-from              no From field, or one with no address
//	missing-date              no Date field
//	bad-date                  the Date field cannot be read in any known form
//	bad-address               an address-list element with no recognisable address (detail: field)
//	unknown-charset           a charset x/text does not know, in an encoded word, an RFC 2231
//	                          value or a part's charset parameter (detail: charset); raw text kept
//	bad-encoded-word          a malformed RFC 2047 encoded word; kept as written
//	bad-content-type          Content-Type that is not type/subtype (the default is used) or has junk
//	bad-content-disposition   Content-Disposition without a type, or with junk
//	missing-boundary          a multipart without boundary parameter; its body is one part
//	boundary-not-found        no delimiter line of the boundary opens a part; the body is one part
//	unterminated-multipart    no close delimiter; the last part runs to the end of its parent
//	encoded-message           message/rfc822 with a transfer encoding other than 7bit/8bit/binary
//	                          (RFC 2046 section 5.2.1); listed and hashed decoded, not descended into
//	depth-limit               nesting deeper than MaxDepth; the entity is kept as one part
//	parts-limit               more than MaxParts entities; parsing stops there
//	bad-base64                base64 with characters outside the alphabet or a truncated quantum;
//	                          decoded as far as possible (missing final padding is tolerated)
//	bad-quoted-printable      '=' not followed by two hex digits; kept literally
//	bad-uuencode              x-uuencode body without begin/end lines or with bad lines
//	unknown-encoding          an unknown Content-Transfer-Encoding; the body is taken as binary
//	too-many-defects          more defects of one code than are kept (detail: the code)
//	internal-error            a parser bug was caught; the message is returned as far as it got
//
// Attachments: a leaf is an attachment (Part.Attachment) when its disposition
// is attachment, when it has a filename or name, when its type is anything
// but text/plain, text/html or multipart (an inline image, a PDF without
// disposition), and always for message/rfc822.
package message

// Defect codes; see the package documentation.
const (
	DefectNULByte               = "nul-byte"
	DefectHeader8bit            = "header-8bit"
	DefectBadHeaderLine         = "bad-header-line"
	DefectMissingSeparator      = "missing-header-separator"
	DefectMboxFrom              = "mbox-from-line"
	DefectHeaderLimit           = "header-limit"
	DefectDuplicateField        = "duplicate-field"
	DefectMissingFrom           = "missing-from"
	DefectMissingDate           = "missing-date"
	DefectBadDate               = "bad-date"
	DefectBadAddress            = "bad-address"
	DefectUnknownCharset        = "unknown-charset"
	DefectBadEncodedWord        = "bad-encoded-word"
	DefectBadContentType        = "bad-content-type"
	DefectBadDisposition        = "bad-content-disposition"
	DefectMissingBoundary       = "missing-boundary"
	DefectBoundaryNotFound      = "boundary-not-found"
	DefectUnterminatedMultipart = "unterminated-multipart"
	DefectEncodedMessage        = "encoded-message"
	DefectDepthLimit            = "depth-limit"
	DefectPartsLimit            = "parts-limit"
	DefectBadBase64             = "bad-base64"
	DefectBadQuotedPrintable    = "bad-quoted-printable"
	DefectBadUUEncode           = "bad-uuencode"
	DefectUnknownEncoding       = "unknown-encoding"
	DefectTooManyDefects        = "too-many-defects"
	DefectInternal              = "internal-error"
)
