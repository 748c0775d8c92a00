package identity

import (
	"fmt"
	"time"

	"github.com/resguardo/resguardo/internal/i18n"
)

// Error is an error a person may see: a stable code, and the message in Spanish
// (es-MX, first) and English. Errors about credentials are deliberately generic:
// "wrong login or password" whether the login exists, the password is wrong or
// the account is disabled, so they tell an attacker nothing. errors.Is matches
// on Code, so the sentinels below can be compared with errors.Is even when the
// returned error carries a RetryAfter.
type Error struct {
	Code       string
	ES, EN     string
	RetryAfter time.Duration // throttled: how long until the next attempt is allowed
}

// Error returns both messages, Spanish first.
func (e *Error) Error() string { return e.Message(i18n.ES) + " / " + e.Message(i18n.EN) }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Message is the text for people in lang.
func (e *Error) Message(lang i18n.Lang) string {
	f := e.ES
	if lang == i18n.EN {
		f = e.EN
	}
	if e.Code == ErrThrottled.Code {
		min := int((e.RetryAfter + time.Minute - 1) / time.Minute)
		if min < 1 {
			min = 1
		}
		return fmt.Sprintf(f, min)
	}
	return f
}

func newErr(code, es, en string) *Error { return &Error{Code: code, ES: es, EN: en} }

// The errors of this package.
var (
	ErrInvalidCredentials = newErr("invalid_credentials",
		"Usuario o contraseña incorrectos.", "Wrong login or password.")
	ErrThrottled = newErr("throttled",
		"Demasiados intentos fallidos. Vuelva a intentarlo en %d min.", "Too many failed attempts. Try again in %d min.")
	ErrInvalidCode = newErr("invalid_code",
		"El código no es válido o ya se usó.", "The code is not valid or was already used.")
	ErrNoSession = newErr("no_session",
		"Su sesión terminó. Inicie sesión de nuevo.", "Your session has ended. Please log in again.")
	ErrSessionState = newErr("session_state",
		"Complete primero el paso anterior del inicio de sesión.", "Finish the previous login step first.")
	ErrCSRF = newErr("csrf",
		"El formulario caducó. Recargue la página e intente de nuevo.", "The form has expired. Reload the page and try again.")
	ErrForbidden = newErr("forbidden",
		"No tiene permiso para esta operación.", "You are not allowed to do this.")
	ErrJustificationRequired = newErr("justification_required",
		"Escriba la justificación de este acceso antes de continuar.", "Type the justification for this access before going on.")
	ErrJustificationInvalid = newErr("justification_invalid",
		fmt.Sprintf("La justificación debe tener entre %d y %d caracteres de texto.", MinJustification, MaxJustification),
		fmt.Sprintf("The justification must be %d to %d characters of text.", MinJustification, MaxJustification))
	ErrWeakPassword = newErr("weak_password",
		fmt.Sprintf("La contraseña debe tener entre %d y %d caracteres y no puede contener el nombre de usuario.", MinPasswordLength, MaxPasswordLength),
		fmt.Sprintf("The password must be %d to %d characters long and may not contain the login.", MinPasswordLength, MaxPasswordLength))
	ErrSamePassword = newErr("same_password",
		"La contraseña nueva debe ser distinta de la actual.", "The new password must differ from the current one.")
	ErrDirectoryUnavailable = newErr("directory_unavailable",
		"El directorio institucional (LDAP) no responde. Intente más tarde.", "The institutional directory (LDAP) does not answer. Try again later.")
	ErrNoUser = newErr("no_user",
		"No existe ese usuario.", "No such user.")
	ErrUserExists = newErr("user_exists",
		"Ya existe un usuario con ese nombre.", "A user with that login already exists.")
	ErrInvalidLogin = newErr("invalid_login",
		"El usuario solo puede tener letras minúsculas, dígitos y . _ - @ (hasta 64 caracteres).",
		"A login may only have lower-case letters, digits and . _ - @ (up to 64 characters).")
	ErrInvalidRole = newErr("invalid_role",
		"Rol desconocido.", "Unknown role.")
	ErrNoRole = newErr("no_role",
		"Cada usuario necesita al menos un rol.", "Every user needs at least one role.")
	ErrInvalidAddress = newErr("invalid_address",
		"Dirección de correo no válida.", "Invalid email address.")
	ErrLastAdmin = newErr("last_admin",
		"No se puede quitar, deshabilitar ni borrar al último administrador activo.", "The last enabled administrator cannot be removed, disabled or deleted.")
	ErrDirectoryUser = newErr("directory_user",
		"Este usuario se administra en el directorio o proveedor de identidad institucional (LDAP, OpenID Connect).", "This user is managed in the institutional directory or identity provider (LDAP, OpenID Connect).")
	ErrTOTPNotEnrolled = newErr("totp_not_enrolled",
		"No hay un segundo factor configurado.", "No second factor is set up.")
	ErrTOTPNoEnrolment = newErr("totp_no_enrolment",
		"Inicie de nuevo la configuración del segundo factor.", "Start the second-factor setup again.")
	ErrInvalidToken = newErr("invalid_token",
		"Token de API no válido, vencido o revocado.", "Invalid, expired or revoked API token.")
	ErrInvalidScope = newErr("invalid_scope",
		"Alcance de token desconocido o no permitido para este usuario.", "Unknown token scope, or one this user may not have.")
	ErrInvalidExpiry = newErr("invalid_expiry",
		"La fecha de vencimiento debe estar en el futuro.", "The expiry date must be in the future.")
	ErrOIDCState = newErr("oidc_state",
		"La respuesta del proveedor de identidad no corresponde a este navegador o ya se usó. Inicie sesión de nuevo.",
		"The identity provider's answer does not belong to this browser or was already used. Please log in again.")
	ErrOIDCExpired = newErr("oidc_expired",
		"El inicio de sesión con el proveedor de identidad tardó demasiado. Inicie sesión de nuevo.",
		"Logging in with the identity provider took too long. Please log in again.")
	ErrOIDCDenied = newErr("oidc_denied",
		"Se canceló el inicio de sesión en el proveedor de identidad (no se dio la autorización).",
		"Login was cancelled at the identity provider (authorization was not given).")
	ErrOIDCFailed = newErr("oidc_failed",
		"No se pudo verificar la respuesta del proveedor de identidad. Intente de nuevo o consulte al administrador.",
		"The identity provider's answer could not be verified. Try again or ask the administrator.")
	ErrOIDCUnavailable = newErr("oidc_unavailable",
		"El proveedor de identidad no responde. Intente más tarde.", "The identity provider does not answer. Try again later.")
	ErrOIDCRefused = newErr("oidc_refused",
		"Su cuenta del proveedor de identidad no tiene acceso a Resguardo. Consulte al administrador.",
		"Your identity provider account has no access to Resguardo. Ask the administrator.")
	ErrInvalidName = newErr("invalid_name",
		"Escriba un nombre de hasta 200 caracteres.", "Type a name of up to 200 characters.")
)
