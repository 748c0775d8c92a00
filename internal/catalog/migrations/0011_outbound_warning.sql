-- Schema 11: delayed-delivery warnings (RFC 3464 Action: delayed) for the gateway's
-- queue. An entry still deferred after [gateway.relay] delay_warning gets one
-- warning DSN to its sender; these columns say when and which. Both are NULL
-- until then, so existing rows stay valid and read as "not warned".
ALTER TABLE outbound ADD COLUMN warned_at INTEGER;         -- unix nanoseconds
ALTER TABLE outbound ADD COLUMN warning_dsn_sha256 TEXT;   -- the warning DSN's record
