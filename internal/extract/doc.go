// Package extract turns email bodies and attachments into plain text for the
// search index: Text for any file, HTML for text/html bodies.
//
// # Recognising a file
//
// The MIME type and filename of an attachment are often missing or wrong,
// so the content decides first: "%PDF-1." or "%PDF-2." in the first
// kilobyte is PDF (ISO 32000), "{\rtf" is RTF, a zip ("PK\x03\x04") is
// ODF when its mimetype entry says so (OASIS ODF) and OOXML when it has
// [Content_Types].xml and a main part under word/, xl/ or ppt/ (ECMA-376,
// ISO/IEC 29500); other zips, OLE2 compound files (.doc, .xls, .msg),
// images, audio, video and compressed archives are "unsupported". Then the
// MIME type, then the filename extension; content that nothing labels is
// sniffed as HTML, a message (RFC 5322 header fields) or text when it holds
// no NUL and almost no control bytes. A file labelled PDF or Office that
// lacks the signature is ErrCorrupt, unless the MIME type says text (spam
// often sends "boleto.pdf" as text/plain).
//
// # Formats and their limits
//
//	kind      read                                                   not read
//	text      text/*, taken as UTF-8 (8-bit text without any valid   charset parameters: the caller
//	          UTF-8 sequence as windows-1252)                        decodes (message parts are)
//	csv       , ; or tab separated (encoding/csv, lazy quotes)       -
//	html      visible text (own tokenizer, see below)                CSS: display:none text is kept
//	message   subject and parts, recursively (RFC 5322 and           messages beyond MaxDepth
//	          RFC 2045-2049 via internal/message)
//	pdf       Tj TJ ' " of page content streams and form XObjects    Type3 and CID fonts without
//	          laid out by position; ToUnicode CMaps, simple-font     ToUnicode (their codes are glyph
//	          encodings (WinAnsi, MacRoman, Standard, Differences),  ids: nothing is output), LZW and
//	          Flate/ASCIIHex/ASCII85/RunLength, object streams,      predictors, annotations and form
//	          standard security handler with an empty user password  fields, reading order of columns,
//	          (RC4, AES-128, AES-256)                                user-password or certificate PDFs
//	docx      body, headers, footers, footnotes, endnotes, comments  deleted text, field codes
//	xlsx      sheet names, shared and inline strings, numbers        number formats (dates are serials)
//	pptx      slides in presentation order, speaker notes            masters and layouts
//	odt/ods/  content.xml paragraphs and headings, odt page headers  tracked changes
//	odp       and footers
//	rtf       text, \'hh in \ansicpg or the font's \fcharset code    pictures, objects, field codes
//	          page, \uN; tables and paragraphs as lines
//
// Whitespace is normalised in every kind: a run of blanks becomes one space
// and a run holding a line break one newline; control characters, BOMs and
// soft hyphens are dropped; invalid UTF-8 becomes U+FFFD.
//
// # Limits
//
// Every file is bounded by Limits: its size (MaxInput), the text kept
// (MaxText, then Truncated), a deadline (Timeout, or the caller's ctx if
// sooner, checked in every loop: no goroutine is ever started), the nesting of
// message/rfc822 (MaxDepth) and the entries of a zip (MaxZipFiles, read
// from the end-of-central-directory record before archive/zip allocates
// them). Everything decompressed for one file (zip entries, PDF streams,
// attachments of a message) counts against 8 × MaxInput bytes: a zip whose
// entries declare more is refused at once, and one that lies is stopped by
// archive/zip at the declared size or by the budget. PDF object references,
// page trees and form XObjects are followed with visited sets and depth
// limits, so cycles end; parsers bound their nesting (PDF arrays and
// dictionaries 64, RTF groups 1000) instead of recursing on input.
//
// # Why own code and not a library
//
// Each format needs only its text, and the archive needs hard bounds on
// memory and time for hostile input. OOXML and ODF are zip + XML, read here
// with archive/zip and encoding/xml token streams in a few hundred lines;
// github.com/xuri/excelize/v2 would bring a large dependency tree for
// spreadsheets alone and reads whole parts into memory. github.com/pdfcpu/pdfcpu
// validates and rewrites PDFs but does not lay text out, stops on damaged
// files that a tolerant object scan still reads, and is heavy. HTML uses a
// tokenizer of its own instead of golang.org/x/net/html, which is not a
// dependency of the module: visible text needs tags, comments, raw-text
// elements and character references only (html.UnescapeString knows the
// HTML5 entity table), not tree construction. Charsets come from
// golang.org/x/text, already a dependency.
package extract
