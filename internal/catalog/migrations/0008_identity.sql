-- Schema 8 (issue 7): identity — users and roles, their addresses, sessions, API
-- tokens, TOTP recovery codes, login throttling and the login log. Secrets are
-- never stored: passwords as argon2id hashes, session ids, API tokens and
-- recovery codes as SHA-256 hashes, TOTP secrets sealed (AES-256-GCM) by the
-- identity package. Times are Unix nanoseconds (UTC); 0 means "never".

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    login                TEXT    NOT NULL UNIQUE,      -- lower case
    display_name         TEXT    NOT NULL DEFAULT '',
    source               TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap')),
    external_id          TEXT    NOT NULL DEFAULT '',  -- source ldap: "entryUUID:…"/"objectGUID:…", or the DN
    password_hash        TEXT    NOT NULL DEFAULT '',  -- argon2id (PHC string); '' for directory users
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    totp_secret          BLOB,                          -- sealed; NULL: not enrolled
    totp_last_step       INTEGER NOT NULL DEFAULT 0,   -- last accepted 30 s step (replay protection)
    totp_pending         BLOB,                          -- sealed secret of an unfinished enrolment
    totp_pending_at      INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    password_changed_at  INTEGER NOT NULL DEFAULT 0,
    last_login_at        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT    NOT NULL,
    PRIMARY KEY (user_id, role)
) WITHOUT ROWID;
CREATE INDEX user_roles_role ON user_roles(role);

-- The addresses a user owns: a servidor público reads the mail where one of them
-- is a participant.
CREATE TABLE user_addresses (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address TEXT    NOT NULL,                           -- lower case
    PRIMARY KEY (user_id, address)
) WITHOUT ROWID;
CREATE INDEX user_addresses_address ON user_addresses(address);

CREATE TABLE recovery_codes (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_sha256 TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_sha256)
) WITHOUT ROWID;

-- Server-side sessions, named by the SHA-256 of the cookie value.
CREATE TABLE sessions (
    id_sha256     TEXT    PRIMARY KEY,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE, -- NULL: anonymous (login form)
    state         TEXT    NOT NULL,   -- anonymous, password_ok, totp_pending, full
    method        TEXT    NOT NULL DEFAULT '',             -- local, ldap
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,   -- absolute timeout
    client_ip     TEXT    NOT NULL DEFAULT '',
    user_agent    TEXT    NOT NULL DEFAULT '',
    justification TEXT    NOT NULL DEFAULT '',             -- typed before reading others' mail
    case_ref      TEXT    NOT NULL DEFAULT '',
    justified_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,    -- the first characters, to recognise a token in a list
    token_sha256 TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,    -- space-separated
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Failure counters for login throttling, one row per account ("user:<login>") or
-- client network ("ip:<address or /64>").
CREATE TABLE login_throttle (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    lockouts     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    last_failure INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Every login attempt and second-factor check, for the access log.
CREATE TABLE login_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    login      TEXT    NOT NULL,      -- as typed (normalised), even when no such user exists
    user_id    INTEGER,               -- no foreign key: the log outlives deleted users
    client_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT '',
    method     TEXT    NOT NULL,      -- password, ldap, totp, recovery, token, logout
    result     TEXT    NOT NULL,      -- ok, or why not
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX login_events_at ON login_events(at);
CREATE INDEX login_events_user ON login_events(user_id, at);
CREATE INDEX login_events_login ON login_events(login, at);
