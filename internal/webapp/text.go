package webapp

import "github.com/resguardo/resguardo/internal/i18n"

func printer(l i18n.Lang) i18n.Printer { return i18n.Printer{Lang: l} }

// text is the message catalog: Spanish (es-MX) first, then English.
func text(l i18n.Lang, key string) string {
	m, ok := lookupText(key)
	if !ok {
		return key
	}
	if l == i18n.EN {
		return m[1]
	}
	return m[0]
}

// lookupText finds key in the message catalogs: messages below, and those of
// the dashboard, access-log and administration pages (text_ops.go).
func lookupText(key string) ([2]string, bool) {
	for _, cat := range []map[string][2]string{messages, opsMessages, adminMessages} {
		if m, ok := cat[key]; ok {
			return m, true
		}
	}
	return [2]string{}, false
}

var messages = map[string][2]string{
	"app":               {"Resguardo", "Resguardo"},
	"skip":              {"Saltar al contenido", "Skip to content"},
	"other":             {"English", "Español"},
	"other.lang":        {"en", "es"},
	"nav.search":        {"Buscar", "Search"},
	"nav.verify":        {"Verificar una constancia", "Verify a constancia"},
	"nav.password":      {"Cambiar contraseña", "Change password"},
	"nav.totp":          {"Segundo factor", "Second factor"},
	"nav.logout":        {"Cerrar sesión", "Log out"},
	"nav.logoutall":     {"Cerrar sesión en todos los dispositivos", "Log out on every device"},
	"nav.user":          {"Usuario", "User"},
	"error.title":       {"Error", "Error"},
	"error.notfound":    {"No existe esa página o ese mensaje.", "No such page or message."},
	"error.internal":    {"Ocurrió un error interno. Intente de nuevo.", "An internal error occurred. Please try again."},
	"error.back":        {"Ir a la página de inicio de sesión", "Go to the login page"},
	"error.home":        {"Volver al inicio", "Back to the home page"},
	"link.title":        {"Enlace externo", "External link"},
	"link.heading":      {"Está por salir de Resguardo", "You are about to leave Resguardo"},
	"link.explain":      {"Este enlace viene del contenido de un mensaje archivado. Revise a dónde lleva antes de abrirlo: un correo puede mostrar un texto y enlazar a otro sitio.", "This link comes from the content of an archived message. Check where it leads before opening it: an email can show one text and link to another site."},
	"link.host":         {"Sitio:", "Site:"},
	"link.mismatch":     {"El nombre del sitio usa caracteres internacionales (punycode): puede imitar a otro dominio.", "The site's name uses international characters (punycode): it may imitate another domain."},
	"link.open":         {"Abrir el enlace", "Open the link"},
	"link.note":         {"Se abre sin enviar a ese sitio la dirección de Resguardo.", "It opens without telling that site Resguardo's address."},
	"link.bad":          {"El enlace no es una dirección web válida (http o https).", "The link is not a valid web address (http or https)."},
	"login.title":       {"Iniciar sesión", "Log in"},
	"login.user":        {"Usuario", "Login"},
	"login.password":    {"Contraseña", "Password"},
	"login.submit":      {"Entrar", "Log in"},
	"login.note":        {"Acceso para personal de la institución. Cada acceso queda registrado.", "For the institution's staff. Every access is recorded."},
	"login.oidc":        {"Entrar con", "Log in with"},
	"login.or":          {"O bien, con la cuenta institucional:", "Or, with the institution's account:"},
	"login.continue":    {"Continuar", "Continue"},
	"code.title":        {"Código de verificación", "Verification code"},
	"code.label":        {"Código de 6 dígitos de su aplicación de autenticación, o un código de recuperación", "6-digit code from your authenticator app, or a recovery code"},
	"code.submit":       {"Verificar", "Verify"},
	"password.title":    {"Cambiar la contraseña", "Change your password"},
	"password.must":     {"Debe cambiar su contraseña antes de continuar.", "You must change your password before going on."},
	"password.current":  {"Contraseña actual", "Current password"},
	"password.new":      {"Contraseña nueva (12 caracteres o más)", "New password (12 characters or more)"},
	"password.confirm":  {"Repita la contraseña nueva", "Repeat the new password"},
	"password.submit":   {"Cambiar contraseña", "Change password"},
	"password.mismatch": {"Las dos contraseñas nuevas no coinciden.", "The two new passwords differ."},
	"totp.title":        {"Configurar el segundo factor", "Set up the second factor"},
	"totp.intro":        {"Escanee este código QR con su aplicación de autenticación (por ejemplo FreeOTP, Aegis o Google Authenticator) y escriba el código de 6 dígitos que muestra.", "Scan this QR code with your authenticator app (e.g. FreeOTP, Aegis or Google Authenticator) and type the 6-digit code it shows."},
	"totp.qr":           {"Código QR para la aplicación de autenticación", "QR code for the authenticator app"},
	"totp.secret":       {"Si no puede escanear, escriba esta clave:", "If you cannot scan it, type this key:"},
	"totp.code":         {"Código de 6 dígitos", "6-digit code"},
	"totp.submit":       {"Confirmar", "Confirm"},
	"totp.enrolled":     {"Su cuenta ya tiene un segundo factor configurado.", "Your account already has a second factor."},
	"recovery.title":    {"Códigos de recuperación", "Recovery codes"},
	"recovery.intro":    {"Guarde estos códigos en un lugar seguro. Cada uno sirve una vez si pierde su teléfono. No se volverán a mostrar.", "Keep these codes somewhere safe. Each works once if you lose your phone. They will not be shown again."},
	"recovery.next":     {"Continuar", "Continue"},
	"search.title":      {"Buscar correo", "Search mail"},
	"search.q":          {"Consulta (lenguaje de búsqueda)", "Query (search language)"},
	"search.q.help":     {"Ejemplo: de:juan@ejemplo.gob.mx asunto:\"licitación\" después:2024-01-01 -borrador", "Example: from:juan@ejemplo.gob.mx subject:\"tender\" after:2024-01-01 -draft"},
	"search.from":       {"De", "From"},
	"search.to":         {"Para", "To"},
	"search.since":      {"Desde (fecha)", "Since (date)"},
	"search.until":      {"Hasta (fecha)", "Until (date)"},
	"search.attach":     {"Con adjuntos", "With attachments"},
	"search.words":      {"Palabras", "Words"},
	"search.submit":     {"Buscar", "Search"},
	"search.results":    {"resultados", "results"},
	"search.none":       {"No se encontraron mensajes.", "No messages found."},
	"search.prev":       {"Anterior", "Previous"},
	"search.next":       {"Siguiente", "Next"},
	"search.page":       {"Página", "Page"},
	"search.date":       {"Fecha", "Date"},
	"search.sender":     {"Remitente", "Sender"},
	"search.subject":    {"Asunto", "Subject"},
	"search.own":        {"Se muestran solo los mensajes en los que participa una de sus direcciones de correo.", "Only messages in which one of your addresses participates are shown."},
	"search.noaddress":  {"Su cuenta no tiene direcciones de correo asociadas: no hay mensajes que pueda consultar.", "Your account has no email addresses: there are no messages you may read."},
	"search.baddate":    {"Las fechas deben tener la forma AAAA-MM-DD.", "Dates must be YYYY-MM-DD."},
	"search.logged":     {"Cada búsqueda queda registrada en la bitácora de accesos.", "Every search is recorded in the access log."},
	"justify.title":     {"Justificación del acceso", "Justification of access"},
	"justify.intro":     {"Su rol permite consultar correo de otras personas. Antes de hacerlo, escriba por qué (por ejemplo, el número de solicitud o de expediente). La justificación se guarda con cada acceso de esta sesión.", "Your role may read other people's mail. Before you do, type why (for example the request or case number). It is recorded with every access in this session."},
	"justify.label":     {"Justificación (de 15 a 2,000 caracteres)", "Justification (15 to 2,000 characters)"},
	"justify.submit":    {"Continuar", "Continue"},
	"justify.current":   {"Justificación de esta sesión:", "This session's justification:"},
	"message.title":     {"Mensaje", "Message"},
	"message.from":      {"De", "From"},
	"message.to":        {"Para", "To"},
	"message.cc":        {"Cc", "Cc"},
	"message.date":      {"Fecha", "Date"},
	"message.subject":   {"Asunto", "Subject"},
	"message.size":      {"Tamaño", "Size"},
	"message.id":        {"Identificador (SHA-256)", "Identifier (SHA-256)"},
	"message.text":      {"Texto del mensaje", "Message text"},
	"message.html":      {"Versión HTML (sin scripts ni contenido remoto)", "HTML version (no scripts, no remote content)"},
	"message.notext":    {"El mensaje no tiene texto sin formato.", "The message has no plain text."},
	"message.attach":    {"Adjuntos", "Attachments"},
	"message.noname":    {"sin nombre", "no name"},
	"message.download":  {"Descargar", "Download"},
	"message.checks":    {"Revisiones a la llegada", "Checks on arrival"},
	"message.nochecks":  {"Importado: sin revisiones de la pasarela.", "Imported: no gateway checks."},
	"message.channel":   {"Canal", "Channel"},
	"message.verdict":   {"Veredicto", "Verdict"},
	"message.av":        {"Antivirus", "Antivirus"},
	"message.spam":      {"Antispam", "Antispam"},
	"message.malformed": {"Mensaje malformado: se conserva tal como llegó.", "Malformed message: kept exactly as received."},
	"message.const":     {"Descargar constancia", "Download constancia"},
	"message.back":      {"Volver a la búsqueda", "Back to search"},
	"constancia.pending": {"La constancia aún no está sellada: el punto de control se sella en unos segundos. Intente de nuevo.",
		"The constancia is not sealed yet: the checkpoint is timestamped within seconds. Try again."},
	"message.views":       {"Versiones del mensaje", "Message versions"},
	"message.html.tab":    {"Versión HTML", "HTML version"},
	"message.text.tab":    {"Texto sin formato", "Plain text"},
	"message.thread":      {"Conversación", "Conversation"},
	"message.thread.this": {"este mensaje", "this message"},
	"message.remote.one":  {"Se bloqueó 1 imagen remota: el contenido remoto no se carga.", "1 remote image was blocked: remote content is not loaded."},
	"message.remote":      {"Se bloquearon %s imágenes remotas: el contenido remoto no se carga.", "%s remote images were blocked: remote content is not loaded."},
	"facet.title":         {"Refinar resultados", "Refine results"},
	"facet.year":          {"Año", "Year"},
	"facet.domain":        {"Dominio del remitente", "Sender domain"},
	"facet.attach":        {"Adjuntos", "Attachments"},
	"facet.with":          {"Con adjuntos", "With attachments"},
	"facet.without":       {"Sin adjuntos", "Without attachments"},
	"facet.skipped":       {"Hay más de 100,000 resultados: acote la consulta para ver cuántos hay por año, dominio y adjuntos.", "More than 100,000 results: narrow the query to see counts by year, domain and attachments."},
	"export.submit":       {"Exportar estos resultados (ZIP)", "Export these results (ZIP)"},
	"export.help": {"Descarga un ZIP con cada mensaje tal como llegó, su constancia, los manifiestos y el sello firmado por la institución; la exportación queda registrada en la bitácora de accesos.",
		"Downloads a ZIP with each message exactly as received, its constancia, the manifests and the seal signed by the institution; the export is recorded in the access log."},
	"export.pending": {"Los mensajes cuyo punto de control aún no tiene sello de tiempo se incluyen sin constancia (su línea del manifiesto no la menciona): exporte de nuevo más tarde para obtenerlas.",
		"Messages whose checkpoint is not timestamped yet are included without a constancia (their manifest line names none): export again later to get them."},
	"export.toomany": {"Para exportar desde la web acote la búsqueda: el máximo es", "To export from the web, narrow the search: the limit is"},
	"export.noquery": {"Escriba una consulta para exportar sus resultados.", "Give a query to export its results."},
}
