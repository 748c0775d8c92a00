// Package identity is who may do what in Resguardo: accounts and roles, login
// with throttling, a second factor (TOTP), server-side sessions with CSRF
// tokens, API tokens, the access-justification rule, and LDAP / Active
// Directory. The web application and the JSON API use it; the catalog stores its
// state (schema 8) and never sees a secret in the clear.
//
// # Accounts and roles
//
// An account has a login (lower-case ASCII), a display name, one or more roles
// (docs/DESIGN.md: administrador, responsable_archivo, unidad_transparencia,
// auditor, titular_unidad, servidor_publico) and the email addresses it owns.
// Local accounts have an argon2id password hash (RFC 9106's second recommended
// parameters; this package also hashes the gateway's submission users);
// directory accounts have none and take name, addresses and roles from the
// directory at every login. The first administrator is created by
// EnsureFirstAdmin with a random password shown once and changed at first
// login. The last enabled administrator cannot be removed.
//
// Reading mail: everyone reads the mail in which one of their own addresses
// participates (ReadAccess → AccessOwn), and nothing else — except the roles
// that read others' mail, auditor and unidad de transparencia (AccessPrivileged),
// who must first type a justification, held in their session (SetJustification)
// and copied by the caller into the ledger's access entry of every search, view,
// download and export (archive.LogAccess; User.Actor names the user there).
// AuthorizeRead applies both rules. Other rights are Permissions per role
// (User.Can).
//
// # Login
//
// Login checks the password (the local hash, or a bind to the directory) and
// issues a new session, deleting the one the login form came from, so a session
// id planted before login is worthless (no fixation). The session's State then
// says what is missing: the TOTP code (StateTOTPPending), a password change or
// the mandatory TOTP enrolment (StatePasswordOK), or nothing (StateFull). Each
// step up rotates the id again. Failures are generic (ErrInvalidCredentials
// whether the login exists or not; unknown logins spend the time of a real
// argon2id check) and throttled per account and per client network
// (ThrottlePolicy: 5 failures lock an account for 15 minutes, each further
// failure doubles the lock up to a day). Every attempt, success or failure, is
// a row of the login log (LoginEvents) for the access-log pages.
//
// # Second factor
//
// TOTP per RFC 6238 (HMAC-SHA-1, 6 digits, 30 s steps, one step of clock skew
// either side), implemented here over RFC 4226 rather than with a library: the
// algorithm is twenty lines, and replay protection needs the time step that
// matched, which common libraries do not return. A step, once used, cannot be
// used again (nor any earlier one), atomically in the catalog. Secrets are 160
// random bits, sealed with AES-256-GCM under Options.SecretKey (bound to the
// account), and enrolled through an otpauth:// URL and its QR code (PNG). Ten
// single-use recovery codes (about 79 bits each, stored as SHA-256) replace a
// lost phone. TOTP is mandatory for every role but servidor público
// (TOTPRequired).
//
// # Sessions
//
// A session id is 256 random bits (base64url) in a cookie that is HttpOnly,
// SameSite=Strict, Secure and __Host- prefixed under TLS (SessionCookie); the
// catalog stores only its SHA-256. Sessions end after 30 minutes idle or 12 hours
// in all (SessionPolicy), at logout, at LogoutEverywhere, when the password
// changes (all others) and when the account is disabled. Each session's CSRF
// token is an HMAC keyed with its id (CheckCSRF compares in constant time).
//
// # API tokens
//
// "rsg_" and 256 random bits, shown once, stored as SHA-256, with scopes
// (search, read, export, admin) that narrow — never widen — the account's own
// rights, an optional expiry, a last-used time, and revocation.
//
// # Directory
//
// LDAP binds as a service account, finds the person's entry with a filter in
// which the login is escaped (BuildFilter, RFC 4515), binds as that entry with
// the typed password (an empty one is refused before it can become an
// unauthenticated bind), reads the groups (memberOf or a group search) and maps
// group DNs to roles. ldaps:// or StartTLS is required unless explicitly
// allowed. The first successful login provisions the account.
package identity
