package identity

import (
	"errors"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/i18n"
)

// Read authorization, justification and normalisation.

func TestCanRead(t *testing.T) {
	t.Parallel()
	sp := &User{Login: "jperez", Roles: []Role{RoleServidorPublico}, Addresses: []string{"jperez@ejemplo.gob.mx", "juan.perez@ejemplo.gob.mx"}}
	aud := &User{Login: "mlopez", Roles: []Role{RoleAuditor, RoleServidorPublico}, Addresses: []string{"maria.lopez@ejemplo.gob.mx"}}
	ut := &User{Login: "ut", Roles: []Role{RoleTransparencia}}
	adm := &User{Login: "ana", Roles: []Role{RoleAdministrador}, Addresses: []string{"ana@ejemplo.gob.mx"}}
	arch := &User{Login: "archivo", Roles: []Role{RoleResponsableArchivo, RoleTitularUnidad}}
	off := &User{Login: "baja", Roles: []Role{RoleAuditor}, Addresses: []string{"baja@ejemplo.gob.mx"}, Disabled: true}
	mine := []string{"Otro <otro@externo.mx>", "Juan Pérez <JPEREZ@Ejemplo.gob.mx>"}
	theirs := []string{"otro@externo.mx", "maria.lopez@ejemplo.gob.mx"}
	nobody := []string{"otro@externo.mx", "quien@ejemplo.gob.mx"}
	for _, tc := range []struct {
		u     *User
		parts []string
		want  Access
	}{
		{sp, mine, AccessOwn},
		{sp, theirs, AccessNone},
		{sp, nobody, AccessNone},
		{sp, nil, AccessNone},
		{sp, []string{"jperez@ejemplo.gob.mx.atacante.mx", "xjperez@ejemplo.gob.mx", "jperez@ejemplo.gob.m"}, AccessNone},
		{sp, []string{"\"jperez@ejemplo.gob.mx\" <otro@externo.mx>"}, AccessNone}, // a display name is not an address
		{aud, theirs, AccessOwn},
		{aud, mine, AccessPrivileged},
		{aud, nobody, AccessPrivileged},
		{ut, nobody, AccessPrivileged},
		{adm, nobody, AccessNone},
		{adm, []string{"ana@ejemplo.gob.mx"}, AccessOwn},
		{arch, nobody, AccessNone},
		{off, []string{"baja@ejemplo.gob.mx"}, AccessNone},
		{off, nobody, AccessNone},
		{nil, mine, AccessNone},
	} {
		if got := ReadAccess(tc.u, tc.parts); got != tc.want {
			t.Errorf("ReadAccess(%v, %q) = %d, want %d", tc.u, tc.parts, got, tc.want)
		}
		if CanRead(tc.u, tc.parts) != (tc.want != AccessNone) {
			t.Errorf("CanRead(%v, %q)", tc.u, tc.parts)
		}
	}
	j := Justification{Text: "Solicitud de información folio 330001-2025"}
	for _, tc := range []struct {
		u     *User
		j     Justification
		parts []string
		want  error
	}{
		{sp, Justification{}, mine, nil},
		{sp, j, nobody, ErrForbidden},
		{aud, Justification{}, nobody, ErrJustificationRequired},
		{aud, Justification{Text: "   porque sí   "}, nobody, ErrJustificationRequired},
		{aud, j, nobody, nil},
		{aud, Justification{}, theirs, nil}, // her own mail needs no justification
		{adm, j, nobody, ErrForbidden},
	} {
		if _, err := AuthorizeRead(tc.u, tc.j, tc.parts); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("AuthorizeRead(%s, %q): %v, want %v", tc.u.Login, tc.j.Text, err, tc.want)
		}
	}
	if !adm.Can(PermManageUsers) || sp.Can(PermManageUsers) || !aud.Can(PermAccessLogAll) || off.Can(PermCases) || !ut.Can(PermTransparency) {
		t.Error("permissions")
	}
	if !TOTPRequired(RoleAuditor) || TOTPRequired(RoleServidorPublico) || sp.TOTPRequired() || !aud.TOTPRequired() {
		t.Error("TOTP policy")
	}
	if RoleAuditor.Name(i18n.ES) != "Órgano interno de control / auditor" || RoleServidorPublico.Name(i18n.EN) != "Public servant" {
		t.Error("role names")
	}
}

func TestJustification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	aud, _, _ := e.enrol(t, "mlopez", []Role{RoleAuditor})
	if aud.Justification.Text != "" {
		t.Fatal("justified from the start")
	}
	for _, bad := range []string{"", "porque sí", strings.Repeat("x", MaxJustification+1), "Revisión de contratos\x00 ocultos"} {
		if _, err := e.svc.SetJustification(e.ctx, aud.ID, bad, ""); !errors.Is(err, ErrJustificationInvalid) {
			t.Errorf("justification %q: %v", bad, err)
		}
	}
	s, err := e.svc.SetJustification(e.ctx, aud.ID, "  Auditoría AI-07/2025: contratos de obra pública  ", "AI-07/2025")
	if err != nil || s.Justification.Text != "Auditoría AI-07/2025: contratos de obra pública" || s.Justification.Case != "AI-07/2025" {
		t.Fatalf("set: %+v %v", s, err)
	}
	got, u, err := e.svc.Session(e.ctx, aud.ID)
	if err != nil || !got.Justification.Valid() || !got.Justification.At.Equal(e.clk.now()) {
		t.Fatalf("held in the session: %+v %v", got.Justification, err)
	}
	if _, err := AuthorizeRead(u, got.Justification, []string{"alguien@ejemplo.gob.mx"}); err != nil {
		t.Fatal(err)
	}
	if u.Actor() != "user:mlopez" {
		t.Error(u.Actor())
	}
	e.mkUser(t, "jperez", []Role{RoleServidorPublico})
	sp, _ := e.login(t, "jperez", goodPW)
	if _, err := e.svc.SetJustification(e.ctx, sp.ID, "Quiero leer el correo de otros", ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("servidor público: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Juan <Juan.Perez@Ejemplo.GOB.mx>": "juan.perez@ejemplo.gob.mx",
		" ana@ejemplo.gob.mx ":             "ana@ejemplo.gob.mx",
		"<ana@ejemplo.gob.mx>":             "ana@ejemplo.gob.mx",
		"ana":                              "",
		"@ejemplo.gob.mx":                  "",
		"ana@":                             "",
		"a b@c.mx":                         "",
		"":                                 "",
	} {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
	for in, ok := range map[string]bool{"jperez": true, "J.Perez": true, "juan.perez@ejemplo.gob.mx": true, "svc-resguardo": true,
		"_x": false, "": false, "juan perez": false, "pérez": false, "a)(uid=*": false, strings.Repeat("a", 65): false} {
		if _, err := NormalizeLogin(in); (err == nil) != ok {
			t.Errorf("NormalizeLogin(%q): %v", in, err)
		}
	}
}
