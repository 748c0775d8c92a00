package query_test

import (
	"errors"
	"fmt"

	"github.com/resguardo/resguardo/internal/search/query"
)

func ExampleParse() {
	n, err := query.Parse(`de:mfrios@finanzas.edomex.gob.mx después:2023-01 tiene:adjunto -borrador`)
	if err != nil {
		panic(err)
	}
	fmt.Println(query.String(n))
	// Output: (from:mfrios@finanzas.edomex.gob.mx AND after:2023-01-01 AND has:attachment AND NOT borrador)
}

func ExampleSyntaxError_Caret() {
	q := `asunto:"licitación pública" (de:juan OR de:ana`
	_, err := query.Parse(q)
	var se *query.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.MsgES)
		fmt.Println(se.Caret(q))
	}
	// Output:
	// se esperaba ")" para cerrar el grupo abierto en 30
	// asunto:"licitación pública" (de:juan OR de:ana
	//                                               ^
}
