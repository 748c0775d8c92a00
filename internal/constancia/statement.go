package constancia

import (
	"fmt"
	"time"
)

// statements returns the declaration in Spanish and English. The wording states
// facts that the constancia proves and nothing more.
func statements(issuer string, sha string, index int64, stamp time.Time, authority string) (es, en string) {
	mx, err := time.LoadLocation("America/Mexico_City")
	if err != nil {
		mx = time.UTC
	}
	t := stamp.In(mx).Format("2006-01-02 15:04:05 MST")
	es = fmt.Sprintf("%s hace constar que el mensaje de correo cuyo contenido tiene la huella SHA-256 %s "+
		"forma parte de su archivo institucional como la entrada %d de su bitácora de transparencia, "+
		"incluida en un punto de control firmado cuya fecha y hora (%s) consta en un sello de tiempo "+
		"emitido por %s. Cualquier alteración posterior de un solo byte del mensaje haría fallar su "+
		"verificación. Esta constancia acredita la integridad del mensaje desde esa fecha y los datos "+
		"de origen registrados al recibirlo; su valor probatorio lo determina la autoridad que la valore.",
		issuer, sha, index, t, authority)
	en = fmt.Sprintf("%s attests that the email message whose content has SHA-256 %s is part of its "+
		"institutional archive as entry %d of its transparency ledger, included in a signed checkpoint "+
		"whose date and time (%s) are attested by a timestamp issued by %s. Any later change to a single "+
		"byte of the message would make its verification fail. This constancia proves the message's "+
		"integrity since that time and the origin facts recorded on arrival; its weight as evidence is "+
		"for the authority that assesses it.",
		issuer, sha, index, stamp.UTC().Format(time.RFC3339), authority)
	return es, en
}

// deliveryStatements add the delivery to the declaration.
func deliveryStatements(host, ip, at string, index int64) (es, en string) {
	es = fmt.Sprintf("Además, la entrada %d de la misma bitácora registra que el servidor %s (%s) aceptó la entrega "+
		"del mensaje el %s, con la respuesta y los datos de la conexión que constan en el detalle de la entrega.",
		index, host, ip, at)
	en = fmt.Sprintf("Moreover, entry %d of the same ledger records that the server %s (%s) accepted delivery of "+
		"the message at %s, with the reply and connection facts given in the delivery detail.", index, host, ip, at)
	return es, en
}
