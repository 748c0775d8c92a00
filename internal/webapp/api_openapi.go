package webapp

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3.1 document, served at /api/v1/openapi.json
// without authentication. TestOpenAPICoversRoutes keeps it and apiRoutes in
// step.
//
//go:embed openapi.json
var openAPI []byte

func (a *App) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.Write(openAPI)
}
