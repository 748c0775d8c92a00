// Package intake is the pipeline every SMTP channel (MX, submission, journal)
// hands a complete message to: it runs the checks a channel's policy asks for,
// folds their findings into one Verdict (accept, quarantine, reject,
// tempfail) and gives the message to the archive. It implements
// smtpgw.Deliverer.
//
// # The 250 contract
//
// Pipeline.Deliver answers 250 only after the archive reported the item
// durable through archive.Item.Done (blob fsynced, catalog committed, ledger
// appended): Archived and Duplicate (the same bytes were already archived; a
// reception is added) both count. Every other outcome is 451 4.3.0: an
// archive error, an ingester stopped after a storage error, a context that
// ended (connection closed, DeliverTimeout) before the result, or a tempfail
// verdict. A message answered 451 may still become durable (the archive
// finishes what it started); the client's retry is then a Duplicate, which
// keeps delivery at least once and never loses a message.
//
// # Verdicts
//
// A Check (Name, Run) returns an Outcome: findings, each with a code (e.g.
// "dmarc_reject", "dnsbl") and a suggested Action, and a detail kept in the
// record (mailauth.Result for the authentication check). The channel's
// Policy may skip checks, override the action of a finding code, and caps
// every action at MaxAction: the journal channel's cap is ActionTag, so
// journaled mail (already delivered inside the institution) is never
// refused, only marked. The Verdict is the strongest applied action
// (accept < tag < quarantine < tempfail < reject); tag leaves the verdict
// accept with Tagged set.
//
//   - accept: archived; 250.
//   - quarantine: archived (it reached the institution: it is a record) and
//     marked in its reception envelope; 250. Not delivered once the relay
//     exists.
//   - reject: 550 5.7.1 and NOT archived. A refused message never entered
//     the institution: the sender got a permanent error and keeps its copy,
//     so it is not a record of the institution (the refusal is in the log).
//   - tempfail: 451 4.3.0, not archived; the client retries.
//
// # What is kept
//
// The reception envelope (archive.Item.Envelope, stored per arrival) is the
// JSON document Envelope: channel, listener, client address, HELO, TLS
// version and cipher, MAIL FROM, RCPT TO (for an unwrapped Exchange journal
// report: the report's recipients, Bcc included, and the journal
// transaction's own envelope under "journal"), auth user, gateway flags,
// the verdict with its reasons, every check's outcome and detail, and the
// Authentication-Results field for the relayed copy. The archived bytes are
// never modified.
package intake
