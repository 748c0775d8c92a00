// Package mailbox reads messages out of single files, directory trees, maildirs and
// mbox files, for `resguardo import PATH...`. It only finds and frames messages; it
// never parses or rewrites them.
//
// # Specifications
//
//   - RFC 4155 (The application/mbox Media Type), section 2: an mbox is a sequence of
//     messages, each starting with a "From " line (the From_ line: "From ", the envelope
//     sender, a space and an asctime-style timestamp); writers add an empty line after
//     each message. Appendix A of the same document lists the incompatible variants.
//   - The mboxrd, mboxo and mboxcl2 variants, as described in the qmail/mutt mbox(5)
//     manual pages (https://www.qmail.org/man/man5/mbox.html) and in the mboxrd
//     proposal by Rahul Dhesi (1995): mboxo quotes body lines matching ^From  as
//     >From  ; mboxrd quotes every line matching ^>*From  by adding one '>', which
//     makes the quoting reversible; mboxcl2 frames each body with a Content-Length
//     header and quotes nothing.
//   - The qmail maildir specification (https://cr.yp.to/proto/maildir.html): messages
//     are files in cur/ and new/; tmp/ holds deliveries in progress and is not read;
//     names starting with a dot are skipped. Maildir++ subfolders
//     (https://www.courier-mta.org/imap/README.maildirquota.html) are maildirs named
//     ".Folder" inside the top maildir; they are found by the recursive walk.
//   - RFC 5322 section 3.6.8: a header field name is 1*ftext, ftext = %d33-57 /
//     %d59-126. Used to decide whether a file found in a directory walk looks like mail.
//
// # Paths
//
// Scan takes paths as given. A regular file is an mbox when its first non-blank line
// (after an optional UTF-8 byte order mark) is a From_ line under the configured
// format; otherwise it is one message (Format "eml"). A file named explicitly is always
// imported, whether or not it looks like mail; an empty one is an Item with ErrEmpty.
//
// A directory is walked recursively in byte order of names (os.ReadDir), depth first.
// A directory holding both cur/ and new/ directories is a maildir: every file in cur/
// and new/ is a message (Format "maildir"), except names starting with a dot (reported
// through OnSkip); tmp/ is not read (a non-empty tmp/ is reported through OnSkip);
// other entries, including subdirectories of cur/ and new/, are walked as usual. Files of mail servers
// (dovecot.index*, dovecot.list.index*, dovecot-uidlist, dovecot-uidvalidity*,
// dovecot-keywords, maildirfolder, courierimap*, subscriptions) and of desktops
// (.DS_Store, Thumbs.db) are skipped silently anywhere in a walk. Any other file found
// by a walk is imported only when it looks like mail: its first non-blank line, within
// the first 8 KiB, is a "From " line or starts with an RFC 5322 field name and a
// colon. Otherwise it is reported through Options.OnSkip and not imported.
//
// Symbolic links: a path named explicitly is followed (the caller asked for it).
// Inside a walk no symbolic link is followed, to a file or to a directory: each is
// reported through OnSkip ("symbolic link not followed"). This keeps a walk inside
// its tree, never imports the same message twice through two names, and cannot loop.
// Directories are also compared (os.SameFile) with their ancestors, so a bind mount
// cycle is reported instead of walked forever.
//
// Sources are absolute, cleaned paths ("PATH" for a file, "PATH:OFFSET" for an mbox
// message, OFFSET being the byte offset of its From_ line), so rerunning an import of
// the same unchanged tree yields the same sources from any working directory. A
// maildir message changes its name when a mail client sets a flag or moves it from
// new/ to cur/; its Source changes with it.
//
// # mbox framing
//
// A From_ line is a line starting with "From ", at most 4 KiB long, holding no bare
// carriage return (only its CRLF ending). In mboxo format every such line separates
// messages: that is the definition of the format, so an unquoted body line "From here
// on..." written by a careless writer splits a message in two (the format cannot tell
// it apart), and the split line is lost from both halves.
//
// In mboxrd, mboxcl2 and auto format the From_ line must also have the RFC 4155
// shape, checked leniently: after "From " comes an address token and then either
// nothing or words of which one is a clock time (h:mm, hh:mm or hh:mm:ss). This
// accepts everything real
// writers produce ("From MAILER-DAEMON Thu Sep 18 17:54:04 2008", Netscape's "From - "
// and "From -", Gmail's "From 1844347792267117879@xxx"), and rejects unquoted prose
// such as "From Russia with love" or "From here on, the committee...", which stays in
// the body byte for byte. A real mboxrd writer quotes every body line that starts
// with "From ", so for a well-formed file the check changes nothing. Its remaining
// blind spots: a one-word body line ("From Mexico") or one holding a time ("From 9:00
// to 14:00 ...") still separates, and a separator carrying a date without a clock
// time merges its message into the previous one.
//
// Each message's Data is the bytes between its From_ line and the next From_ line (or
// end of file), without the From_ line, with quoting undone (mboxrd: one '>' removed
// from every line matching ^>+From ; mboxo: from ^>From  only; mboxcl2: nothing),
// and with exactly one trailing empty line (LF or CRLF), the separator writers add,
// removed when present. A message whose last line has no newline keeps it that way.
//
// Content-Length (mboxcl2, and auto): when a message's header block has exactly one
// Content-Length field whose value N is confirmed by the file (the N body bytes are
// followed by end of file, or by at most one empty line and then a From_ line), the
// message ends after those N bytes and nothing in it is unquoted. Otherwise the
// message is split at From_ lines as above (unquoted only in auto mode). Auto mode
// therefore reads mboxrd files as mboxrd and Content-Length files (such as Netscape's
// and Solaris') by their lengths, per message: a stale or wrong Content-Length
// (common after line endings were converted) is detected and ignored. For a
// Content-Length file written with ">From" quoting (mboxcl), the quoting is kept:
// with byte-count framing there is no way to tell quoting from content, and keeping
// the bytes loses nothing. Confirming a length beyond the 1 MiB read buffer needs
// io.ReaderAt; Scan always has it (files), an MboxReader over a plain io.Reader
// treats such a length as unconfirmed.
//
// Bytes before the first From_ line: an optional UTF-8 byte order mark and empty or
// whitespace-only lines are dropped (their bytes count in the next Item's Input). Any
// other preamble is returned as a message of its own (Source "PATH:0", or "PATH:3"
// after a byte order mark), so nothing is lost. Scan only treats a file as an mbox when its first non-blank line is a
// From_ line, so a preamble message only comes from an MboxReader used directly.
//
// Streaming: an mbox is read through a bufio.Reader of 1 MiB (less for a smaller
// file, which then fits in it whole) and only the current message is held in memory. A message larger than MaxMessageSize is returned as an
// Item with ErrTooLarge and the reader resynchronises at the next From_ line (or skips
// exactly Content-Length bytes). A message of zero bytes (two From_ lines in a row)
// is an Item with ErrEmpty, reported rather than dropped.
package mailbox
