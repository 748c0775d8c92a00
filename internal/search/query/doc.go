// Package query parses the search query language of the archive (in the
// style of Gmail and notmuch) into a tree of Nodes that package search
// translates for its index. It implements no RFC; id: searches the
// Message-ID of RFC 5322 section 3.6.4.
//
//	from:juan.perez@sep.gob.mx to:@proveedor.com.mx subject:"licitación pública"
//	after:2022-01-01 before:2024-12-31 has:attachment filename:pdf contrato -borrador
//
// # Grammar
//
//	query = [ or ]                       (empty: All)
//	or    = and { "OR" and }
//	and   = unary { [ "AND" ] unary }    (AND is implicit between terms)
//	unary = ( "NOT" | "-" ) unary | "(" or ")" | leaf
//	leaf  = word | phrase | field ":" value | size op number [unit] | "*"
//
// Precedence is NOT, then AND, then OR: "a OR b c" is "a OR (b AND c)", and
// "-a b" is "(NOT a) AND b". AND, OR and NOT are operators only in
// uppercase; "and", "or" and "not" are words. A - negates only when it
// starts a word and is glued to what it negates ("-borrador", "-(a b)",
// "-from:x"); a - with a space after it is an error.
//
// # Words and phrases
//
// Words end at white space, parentheses and the end of the query. A word
// ending in * (after at least one character) is a prefix: "licit*". A
// phrase is in double quotes, in which \" and \\ stand for " and \ (any
// other \ is itself); it may be glued to a field name (subject:"a b") but
// nothing else, and a space, parenthesis or the end must follow it. A bare
// word searches subject, body and attachment text (Term.Field "text").
//
// # Fields
//
// Field names are case-insensitive; Spanish aliases follow the slash:
//
//	from/de, to/para, cc, bcc/cco        an address field
//	participant/participante             any address field
//	domain/dominio                       any address's domain
//	subject/asunto, body/cuerpo          the subject, the body text
//	attachment                           text extracted from attachments
//	filename/adjunto/archivo             an attachment's file name
//	id                                   the Message-ID, with or without <>
//	thread/hilo                          a thread number
//	channel/canal                        import, mx, submission or journal
//	after/después/despues, before/antes  dates, see below
//	date/fecha, year/año/anio            dates, see below
//	has/tiene                            attachment (adjunto)
//	is/es                                malformed (malformado)
//	size/tamaño/tamano                   sizes, see below
//
// A colon makes a field only after a field-shaped name (two or more letters
// and nothing else) with something after the colon. "frm:x" is therefore an
// error (unknown field, with the list of fields and a suggestion), while
// "10:30", "C:\temp", ":x", URLs (a name followed by "//": "http://x") and
// words ending in a colon after an unknown name (the "RE:" and "Fwd:" of a
// pasted subject) are bare words. To search for other text that looks like
// a field, quote it: "mailto:juan". A known field's value must not be
// empty: "from:" is an error, and so is "from: juan", with a space. Wildcards
// are allowed only in text and address fields. Grouping after a field
// (from:(a OR b)) is not supported.
//
// # Dates
//
// Dates are YYYY-MM-DD, YYYY-MM or YYYY (years 1000 to 9999) and denote
// whole UTC days, months or years; the result is a DateRange of UTC
// midnights, From inclusive and To exclusive:
//
//	after:D      on or after the start of D        (From = start of D)
//	before:D     before the start of D             (To = start of D)
//	date:D       within D                          (From = start of D, To = end of D)
//	date:A..B    from the start of A to the end of B; either side may be left out
//	year:YYYY    within that year
//
// # Sizes
//
// size>N, size>=N, size<N and size<=N (also size:>N) compare the message
// size in bytes; N is a decimal number (1.5) with an optional unit, B, KB,
// MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024),
// case-insensitive and glued to the number. > and < are exclusive, >= and
// <= inclusive; SizeRange stores Min inclusive and Max exclusive, so
// size>1MB is Min 1000001 and size<=1MB is Max 1000001. Bounds go up to
// MaxSize (1 PiB).
//
// # Limits and errors
//
// A query is at most MaxQueryLen bytes of valid UTF-8 without control
// characters (other than white space), with at most MaxTerms leaves and
// MaxDepth levels of nesting (groups and negations as written, and And, Or
// and Not nodes in the tree: "a OR b c" is two levels deep). Errors are
// *SyntaxError with a byte offset and messages in English and Spanish.
//
// String renders a tree canonically (fully parenthesised, English field
// names, YYYY-MM-DD dates, sizes in bytes) for the access ledger.
package query
