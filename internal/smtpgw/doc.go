// Package smtpgw is the SMTP server side of the Resguardo gateway: the MX
// listener (RFC 5321, port 25), the submission listener (RFC 6409, port
// 587 with STARTTLS per RFC 3207, port 465 with implicit TLS per RFC 8314,
// AUTH per RFC 4954 with PLAIN, RFC 4616, and LOGIN) and the journal
// listener (Microsoft Exchange envelope journal reports and plain BCC
// journaling). It advertises 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
// SIZE (RFC 1870), PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034,
// codes from RFC 3463), CHUNKING (RFC 3030) and LIMITS RCPTMAX (RFC 9422).
//
// The package knows nothing of the archive: a complete message goes to a
// Deliverer, credentials to an Authenticator (deps.go).
//
// # The 250 contract
//
// The gateway answers 250 to DATA (or BDAT LAST) only when
// Deliverer.Deliver returned Accepted(), which a Deliverer must do only
// once the message is durable. Deliver is called at most once per message
// and never for a message the gateway refused. A temporary failure, a
// Deliverer panic, an invalid reply or a timeout answers 451 4.3.0; a
// reject verdict 550/552/553/554 with its enhanced code. Every text sent
// to a client is generic and coded (replies.go); details go to the
// *slog.Logger.
//
// # Bad input
//
//   - Bare CR or bare LF anywhere in what the client sends (commands or
//     message): the transaction is refused with 554 5.6.0 and the
//     connection closed with 421 4.5.2 after the next reply, as Postfix's
//     smtpd_forbid_bare_newline does. This defeats every SMTP smuggling
//     variant (<LF>.<LF>, <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF>,
//     <CR><LF>.<CR>, ...): go-smtp itself only ends DATA on
//     <CR><LF>.<CR><LF>, so these never split a message, and we also
//     refuse the message that carries them.
//   - NUL bytes: accepted and flagged FlagNUL (the archive keeps bytes
//     exactly; checks decide), or 554 5.6.0 with Config.RejectNUL.
//   - 8-bit data without BODY=8BITMIME or SMTPUTF8: accepted, flagged
//     Flag8BitWithout8BITMIME.
//   - Oversize: 552 5.3.4 (SIZE= on MAIL FROM or while reading);
//     header section over Config.MaxHeaderBytes: 552 5.3.4.
//   - Lines over Config.MaxLineLength: 554 5.6.0 in DATA, 500 5.4.0 for a
//     command; the connection is closed.
//   - Too many recipients: 452 4.5.3. Relaying (MX, a domain that is not
//     the institution's; %-hack and bang paths): 550 5.7.1.
//   - AUTH before TLS: 530 5.7.0 (and AUTH is not advertised before TLS);
//     AUTH failures: 535 5.7.8, then lockout per client address and per
//     user (454 4.7.0). MAIL on submission before AUTH: 530 5.7.0; MAIL
//     FROM or header From not among the user's addresses: 550 5.7.1.
//   - Slow clients: Config.ReadTimeout per command and per read of message
//     data, Config.DataTimeout per message, Config.SessionTimeout per
//     connection (421 4.4.2 or disconnect).
//   - Command flooding: 421 4.7.0 after Config.MaxCommands replies or
//     Config.MaxErrors error replies; connection limits per client (/64
//     for IPv6) and in total: 421 4.7.0 at connect.
//
// # What go-smtp does and what this package adds
//
// github.com/emersion/go-smtp parses commands, keeps the protocol state,
// does dot-unstuffing and the <CR><LF>.<CR><LF> end of DATA, BDAT
// chunking, STARTTLS and implicit TLS handshakes, SIZE/RCPTMAX limits,
// line length limits, timeouts per command, and recovers panics in command
// handlers. This package adds: one go-smtp Server per connection, whose
// Debug tap is a guard (guard.go) that sees the plaintext byte stream to
// detect bare CR/LF and to count commands and errors; connection limits,
// client allowlists and session timeouts (server.go); relay control,
// submission sender checks, AUTH over TLS only with lockout (auth.go);
// content checks and idle/total DATA deadlines (data.go); the Exchange
// journal report parser (journal.go); and the mapping of every outcome to
// a generic coded reply (replies.go).
//
// Known limits: go-smtp's parser refuses "RCPT TO:<postmaster>" without a
// domain (RFC 5321 section 4.5.1 wants it accepted); <postmaster@domain>
// works. A command line cut by a read timeout or EOF is handed to the
// session as if complete (textproto), then the connection ends. go-smtp's
// DATA reader drops the CR in a line that starts with ".<CR>" followed by
// anything but LF; the guard still sees it and the message is refused. CHUNKING cannot be turned off in go-smtp; BDAT
// data is held to the same rules (CRLF only, size, Deliver once). A
// journal listener in JournalAuto mode trusts the X-MS-Journal-Report
// header: restrict its clients (Config.AllowedClients).
package smtpgw
