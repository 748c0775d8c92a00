package i18n

type msg struct{ es, en string }

// messages is the catalog; keys are English identifiers.
var messages = map[string]msg{
	// import
	"import.progress":         {"Importando: %s mensajes · %s de %s · %s msg/s · %s/s · faltan %s", "Importing: %s messages · %s of %s · %s msg/s · %s/s · ETA %s"},
	"import.progress.nototal": {"Importando: %s mensajes · %s · %s msg/s · %s/s", "Importing: %s messages · %s · %s msg/s · %s/s"},
	"import.summary":          {"Resumen de la importación", "Import summary"},
	"import.archived":         {"archivados (nuevos):", "archived (new):"},
	"import.duplicate":        {"ya presentes:", "already present:"},
	"import.malformed":        {"  de ellos malformados (conservados):", "  of them malformed (kept):"},
	"import.failed":           {"fallidos:", "failed:"},
	"import.skipped":          {"omitidos (no son correo):", "skipped (not mail):"},
	"import.elapsed":          {"tiempo:", "elapsed:"},
	"import.rate":             {"ritmo:", "rate:"},
	"import.interrupted":      {"Importación interrumpida: lo archivado hasta aquí es durable; vuelva a ejecutar el mismo comando para completarla.", "Import interrupted: everything archived so far is durable; run the same command again to finish."},
	"import.failures":         {"Fallos (archivo: motivo):", "Failures (file: reason):"},
	"import.skips":            {"Omitidos (archivo: motivo):", "Skipped (file: reason):"},
	"import.more":             {"  … y %s más", "  … and %s more"},
	"import.ledger":           {"bitácora:", "ledger:"},
	"import.ledger.value":     {"%s entradas, punto de control firmado", "%s entries, signed checkpoint"},
	// search
	"index.progress":              {"Indexando:", "Indexing:"},
	"search.total":                {"%s resultados (%s ms)", "%s results (%s ms)"},
	"search.total1":               {"%s resultado (%s ms)", "%s result (%s ms)"},
	"yes":                         {"sí", "yes"},
	"no":                          {"no", "no"},
	"search.facet.year":           {"Por año", "By year"},
	"search.facet.sender_domain":  {"Por dominio del remitente", "By sender domain"},
	"search.facet.has_attachment": {"Con adjuntos", "With attachments"},
	"reindex.done":                {"Índice reconstruido: %s mensajes.", "Index rebuilt: %s messages."},
	"export.progress":             {"Exportando:", "Exporting:"},
	"export.done":                 {"%s mensajes exportados a %s (%s msg/s); la exportación quedó registrada en la bitácora de accesos.", "%s messages exported to %s (%s msg/s); the export was logged in the access ledger."},
	"quarantine.in":               {"EN CUARENTENA", "IN QUARANTINE"},
	"quarantine.not_in":           {"fuera de cuarentena", "not in quarantine"},
	"quarantine.verdict":          {"dictamen", "verdict"},
	"quarantine.released":         {"%s liberado de la cuarentena: %d copias en la cola de salida; la liberación quedó registrada en la bitácora de accesos.", "%s released from quarantine: %d copies queued for delivery; the release was logged in the access ledger."},
	"queue.created":               {"en cola desde", "queued since"},
	"queue.last_error":            {"último error", "last error"},
	"queue.no_tls":                {"sin TLS", "no TLS"},
	"queue.delivered":             {"entregado", "delivered"},
	"queue.moved":                 {"%d entradas de la cola pasaron a %s.", "%d queue entries moved to %s."},
	"dkim.created":                {"Llave DKIM creada: %s (0600; respáldela con las demás llaves).", "DKIM key created: %s (0600; back it up with the other keys)."},
	"dkim.publish":                {"Publique este registro TXT en %s antes de firmar correo con ella:", "Publish this TXT record at %s before signing mail with it:"},
	"search.facets_skipped":       {"Sin facetas: la búsqueda tiene más de %s resultados; acótela para verlas.", "No facets: the search has more than %s results; narrow it to see them."},
	"search.lag":                  {"Aviso: %s mensajes aún no están en el índice.", "Note: %s messages are not indexed yet."},
	// data directory
	"data.created": {"Directorio de datos creado en %s", "Data directory created at %s"},
	"data.using":   {"Directorio de datos: %s", "Data directory: %s"},
	"data.keys":    {"  claves:    %s (0600; respáldelas aparte: sin ellas el archivo no se puede leer)", "  keys:      %s (0600; back them up separately: without them the archive cannot be read)"},
	"data.catalog": {"  catálogo:  %s (SQLite)", "  catalog:   %s (SQLite)"},
	"data.blobs":   {"  mensajes:  %s (cifrados, solo anexar)", "  messages:  %s (encrypted, append-only)"},
	"data.ledger":  {"  bitácora:  %s (árbol de Merkle, origen %s)", "  ledger:    %s (Merkle tree, origin %s)"},
	"data.pubkey":  {"  clave pública de la bitácora: %s", "  ledger public key: %s"},
	// serve
	"serve.listening": {"Resguardo escuchando en http://%s  (estado: /  salud: /healthz)", "Resguardo listening on http://%s  (status: /  health: /healthz)"},
	"serve.stopping":  {"Deteniendo Resguardo…", "Stopping Resguardo…"},
	// gateway (serve)
	"gateway.listening":   {"Pasarela SMTP (%s) escuchando en %s", "SMTP gateway (%s) listening on %s"},
	"gateway.tls.created": {"Certificado TLS autofirmado de la pasarela creado en %s (configure gateway.tls_cert_file para usar uno propio)", "Self-signed gateway TLS certificate created at %s (set gateway.tls_cert_file to use your own)"},
	"gateway.stopping":    {"Pasarela SMTP: ya no se aceptan conexiones; terminando las sesiones abiertas…", "SMTP gateway: no longer accepting connections; finishing open sessions…"},
	"gateway.stopped":     {"Pasarela SMTP detenida: %d aceptados, %d en cuarentena, %d rechazados, %d diferidos (4xx)", "SMTP gateway stopped: %d accepted, %d quarantined, %d rejected, %d deferred (4xx)"},
	// fsck
	"fsck.ok":        {"Verificación completa: %s registros, %s bytes leídos, bitácora de %s entradas; sin problemas.", "Check complete: %s records, %s bytes read, ledger of %s entries; no problems."},
	"fsck.okquick":   {"Verificación rápida: %s registros presentes, bitácora de %s entradas verificada; sin problemas.", "Quick check: %s records present, ledger of %s entries verified; no problems."},
	"fsck.bad":       {"Verificación: %s errores y %s avisos en %s registros.", "Check: %s errors and %s warnings in %s records."},
	"fsck.orphans":   {"Aviso: %s bloques sin registro (restos de lotes no confirmados tras una interrupción; no afectan a ningún registro).", "Note: %s blobs without a record (left by batches that never committed after an interruption; no record is affected)."},
	"fsck.recovered": {"Recuperación: se añadieron a la bitácora %s entradas que el catálogo había confirmado antes de una interrupción.", "Recovery: appended to the ledger %s entries the catalog had committed before an interruption."},
	"fsck.live":      {"(Otro proceso escribe ahora: las entradas posteriores al último punto de control se consideran pendientes.)", "(Another process is writing: entries after the latest checkpoint count as pending.)"},
	// config
	"config.ok":       {"Configuración válida: %s", "Configuration is valid: %s"},
	"config.defaults": {"Sin archivo de configuración: se usan los valores predeterminados.", "No configuration file: using the defaults."},
	// ledger
	"ledger.verified": {"Prueba de inclusión verificada contra el punto de control firmado (tamaño %s).", "Inclusion proof verified against the signed checkpoint (size %s)."},
}
