package identity

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/resguardo/resguardo/internal/i18n"
)

// Role is one of the roles of docs/DESIGN.md ("Who uses it"). The identifiers are
// stable ASCII (they are stored, configured and sent in the API); RoleName gives
// the names people read.
type Role string

// The roles.
const (
	RoleAdministrador      Role = "administrador"        // installs, configures domains, keys, engines, users
	RoleResponsableArchivo Role = "responsable_archivo"  // classification scheme, retention, approves disposal
	RoleTransparencia      Role = "unidad_transparencia" // answers information requests; reads others' mail with a justification
	RoleAuditor            Role = "auditor"              // órgano interno de control: audits and investigations; reads others' mail with a justification
	RoleTitularUnidad      Role = "titular_unidad"       // sees the metrics of their unit
	RoleServidorPublico    Role = "servidor_publico"     // reads and certifies their own archived mail
)

// Roles lists every role, most privileged first.
var Roles = []Role{RoleAdministrador, RoleAuditor, RoleTransparencia, RoleResponsableArchivo, RoleTitularUnidad, RoleServidorPublico}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

var roleNames = map[Role][2]string{
	RoleAdministrador:      {"Administrador", "Administrator"},
	RoleResponsableArchivo: {"Responsable de archivo", "Records officer"},
	RoleTransparencia:      {"Unidad de transparencia", "Transparency unit"},
	RoleAuditor:            {"Órgano interno de control / auditor", "Internal control body / auditor"},
	RoleTitularUnidad:      {"Titular de unidad", "Head of unit"},
	RoleServidorPublico:    {"Servidor público", "Public servant"},
}

// Name is the role's name for people in lang.
func (r Role) Name(lang i18n.Lang) string {
	n, ok := roleNames[r]
	if !ok {
		return string(r)
	}
	if lang == i18n.EN {
		return n[1]
	}
	return n[0]
}

// TOTPRequired is the two-factor policy: a second factor (TOTP) is mandatory for
// every role except servidor público, for whom it is recommended.
func TOTPRequired(r Role) bool { return r != RoleServidorPublico }

// ReadsOthersMail reports whether r may read mail in which none of the user's
// addresses participates. Such reads need a justification typed first in the
// session (and, once the case feature exists, a case) and every one of them is
// an access entry in the ledger.
func ReadsOthersMail(r Role) bool { return r == RoleAuditor || r == RoleTransparencia }

// Permission is something a role allows, for the web application's checks.
type Permission string

// Permissions. Reading mail is not among them: CanRead and AuthorizeRead decide it
// from the user's addresses and roles.
const (
	PermManageUsers      Permission = "users.manage"        // users, roles, addresses, tokens of others, unlocks
	PermConfigure        Permission = "system.configure"    // domains, engines, keys (fingerprints), configuration check
	PermSystemStatus     Permission = "system.status"       // dashboard: engine health, ledger, queues
	PermAccessLogAll     Permission = "accesslog.all"       // everyone's accesses and logins
	PermRecords          Permission = "records.manage"      // classification scheme, retention, holds
	PermApproveDisposal  Permission = "records.dispose"     // approve disposal
	PermTransparency     Permission = "transparency.manage" // information requests and public versions
	PermCases            Permission = "cases.manage"        // audits and investigations
	PermMetricsUnit      Permission = "metrics.unit"        // metrics of the user's unit
	PermMetricsAll       Permission = "metrics.all"         // metrics of the whole institution
	PermCertify          Permission = "mail.certify"        // download constancias of readable mail
	PermExport           Permission = "mail.export"         // export readable mail
	PermQuarantineManage Permission = "quarantine.manage"   // release or discard quarantined mail
)

var rolePerms = map[Role][]Permission{
	RoleAdministrador:      {PermManageUsers, PermConfigure, PermSystemStatus, PermAccessLogAll, PermMetricsAll, PermQuarantineManage},
	RoleAuditor:            {PermAccessLogAll, PermCases, PermCertify, PermExport, PermMetricsAll},
	RoleTransparencia:      {PermTransparency, PermCertify, PermExport},
	RoleResponsableArchivo: {PermRecords, PermApproveDisposal, PermMetricsAll},
	RoleTitularUnidad:      {PermMetricsUnit},
	RoleServidorPublico:    {PermCertify, PermExport},
}

// RolePermissions lists what a role allows.
func RolePermissions(r Role) []Permission { return slices.Clone(rolePerms[r]) }

// User is an account as the rest of the program sees it (no secrets).
type User struct {
	ID                 int64
	Login              string
	DisplayName        string
	Source             string // local, ldap
	ExternalID         string // directory accounts: the entry's stable id ("entryUUID:…", "objectGUID:…") or DN
	Roles              []Role
	Addresses          []string // lower case
	MustChangePassword bool
	Disabled           bool
	TOTPEnabled        bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	PasswordChangedAt  time.Time
	LastLoginAt        time.Time
}

// Has reports whether u holds role r.
func (u *User) Has(r Role) bool { return u != nil && slices.Contains(u.Roles, r) }

// Can reports whether one of u's roles grants p. A disabled user can do nothing.
func (u *User) Can(p Permission) bool {
	if u == nil || u.Disabled {
		return false
	}
	for _, r := range u.Roles {
		if slices.Contains(rolePerms[r], p) {
			return true
		}
	}
	return false
}

// TOTPRequired reports whether one of u's roles makes a second factor mandatory.
func (u *User) TOTPRequired() bool {
	for _, r := range u.Roles {
		if TOTPRequired(r) {
			return true
		}
	}
	return false
}

// ReadsOthersMail reports whether one of u's roles reads others' mail.
func (u *User) ReadsOthersMail() bool {
	if u == nil || u.Disabled {
		return false
	}
	return slices.ContainsFunc(u.Roles, ReadsOthersMail)
}

// Actor is how u appears in access entries of the ledger (archive.AccessDetail.Actor).
func (u *User) Actor() string { return "user:" + u.Login }

// Owns reports whether addr (any case, with or without a display name or angle
// brackets) is one of u's addresses.
func (u *User) Owns(addr string) bool {
	a := NormalizeAddress(addr)
	if a == "" || u == nil {
		return false
	}
	return slices.Contains(u.Addresses, a)
}

// NormalizeAddress reduces "Nombre <Juan.Perez@Ejemplo.GOB.mx>" to
// "juan.perez@ejemplo.gob.mx"; "" when addr holds no address.
func NormalizeAddress(addr string) string {
	s := strings.TrimSpace(addr)
	if strings.ContainsAny(s, "<\"") {
		if a, err := mail.ParseAddress(s); err == nil {
			s = a.Address
		} else if i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>'); i >= 0 && j > i {
			s = s[i+1 : j]
		}
	}
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>") || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// Access is the ground on which a user may read a message.
type Access int

// Grounds for reading.
const (
	AccessNone       Access = iota // may not read it
	AccessOwn                      // one of the user's addresses participates
	AccessPrivileged               // a role that reads others' mail; needs a justification
)

// ReadAccess decides on what ground u may read a message whose participants
// (From, Sender, Reply-To, To, Cc, Bcc, envelope sender and recipients) are given:
// own mail first (no justification needed, even for an auditor), then the roles
// that read others' mail. Everyone else — administrador, responsable de archivo,
// titular de unidad and servidor público alike — reads only mail where one of
// their own addresses participates. A disabled user reads nothing.
func ReadAccess(u *User, participants []string) Access {
	if u == nil || u.Disabled {
		return AccessNone
	}
	for _, p := range participants {
		if u.Owns(p) {
			return AccessOwn
		}
	}
	if u.ReadsOthersMail() {
		return AccessPrivileged
	}
	return AccessNone
}

// CanRead reports whether u may read a message with these participants at all
// (a privileged read still needs a justification: see AuthorizeRead).
func CanRead(u *User, participants []string) bool { return ReadAccess(u, participants) != AccessNone }

// AuthorizeRead is CanRead with the justification rule: a privileged read
// without a justification is ErrJustificationRequired, no ground at all is
// ErrForbidden. The caller writes the access entry (with j.Text) for every read
// it allows.
func AuthorizeRead(u *User, j Justification, participants []string) (Access, error) {
	switch a := ReadAccess(u, participants); a {
	case AccessOwn:
		return a, nil
	case AccessPrivileged:
		if !j.Valid() {
			return a, ErrJustificationRequired
		}
		return a, nil
	default:
		return a, ErrForbidden
	}
}

// Justification is what a user who reads others' mail typed to explain why,
// held for the rest of the session and copied into every access entry.
type Justification struct {
	Text string
	Case string // the case (audit, request folio) it belongs to, when one was chosen
	At   time.Time
}

// Justification length limits, in characters.
const (
	MinJustification = 15
	MaxJustification = 2000
)

// Valid reports whether the text meets the length rule.
func (j Justification) Valid() bool { return CheckJustification(j.Text) == nil }

// CheckJustification applies the length rule (after trimming) and refuses control
// characters other than line breaks and tabs.
func CheckJustification(text string) error {
	t := strings.TrimSpace(text)
	n := utf8.RuneCountInString(t)
	if n < MinJustification || n > MaxJustification || !utf8.ValidString(t) {
		return ErrJustificationInvalid
	}
	for _, r := range t {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return ErrJustificationInvalid
		}
	}
	return nil
}
