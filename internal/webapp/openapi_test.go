package webapp

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/resguardo/resguardo/internal/identity"
	"github.com/resguardo/resguardo/internal/web"
)

// TestOpenAPICoversRoutes: the document is served without authentication,
// is OpenAPI 3.1, describes exactly the routes registered under /api/v1 (and
// package web's GET /api/v1/status), every $ref resolves, every path
// parameter is declared, and operation ids are unique.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.apiCall(t, nil, "GET", "/api/v1/openapi.json", "")
	if r.code != 200 || !strings.HasPrefix(r.h.Get("Content-Type"), "application/json") || r.body != string(openAPI) {
		t.Fatalf("GET openapi.json: %d %v", r.code, r.h)
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}
	var documented []string
	ids := map[string]bool{}
	paths := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, op := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			if _, ok := o["responses"].(map[string]any); !ok {
				t.Errorf("%s %s: no responses", method, path)
			}
			if _, ok := o["security"]; !ok {
				t.Errorf("%s %s: no security", method, path)
			}
			declared := map[string]bool{}
			for _, p := range resolveAll(t, doc, o["parameters"]) {
				if pm := p.(map[string]any); pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
		}
	}
	registered := []string{"GET /api/v1/status"} // served by package web
	for _, rt := range e.theApp().apiRoutes() {
		registered = append(registered, rt.pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("documented:\n  %s\nregistered:\n  %s", strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	if schemes["bearerToken"] == nil || schemes["sessionCookie"] == nil {
		t.Fatal("security schemes missing")
	}
	checkRefs(t, doc, doc)
}

// resolveAll returns a list's items with each {"$ref"} replaced by its target.
func resolveAll(t *testing.T, doc map[string]any, v any) []any {
	list, _ := v.([]any)
	var out []any
	for _, x := range list {
		if ref, ok := x.(map[string]any)["$ref"].(string); ok {
			x = lookupRef(t, doc, ref)
		}
		out = append(out, x)
	}
	return out
}

func lookupRef(t *testing.T, doc map[string]any, ref string) any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("external $ref %q", ref)
	}
	var cur any = doc
	for _, p := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok || m[p] == nil {
			t.Fatalf("$ref %q does not resolve", ref)
		}
		cur = m[p]
	}
	return cur
}

// checkRefs resolves every $ref in v.
func checkRefs(t *testing.T, doc map[string]any, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			if s, ok := y.(string); ok && k == "$ref" {
				lookupRef(t, doc, s)
			}
			checkRefs(t, doc, y)
		}
	case []any:
		for _, y := range x {
			checkRefs(t, doc, y)
		}
	}
}

// TestAPIMountedByWeb: behind package web (as serve mounts it), /api/v1/status
// stays web's and every other /api/v1 path reaches the API.
func TestAPIMountedByWeb(t *testing.T) {
	e := newEnv(t)
	s, err := web.New(web.Options{
		Status: func(context.Context) (web.Status, error) { return web.Status{Version: "prueba"}, nil },
		Health: func(context.Context) error { return nil },
		App:    e.theApp(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	e2 := *e
	e2.srv = srv
	tok := e.newToken(t, "ana", identity.ScopeRead)
	if r := e2.apiCall(t, nil, "GET", "/api/v1/status", ""); r.code != 200 || !strings.Contains(r.body, `"version": "prueba"`) {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	if r := e2.apiGet(t, tok, "/api/v1/messages/"+e.xssID); r.code != 200 || !strings.Contains(r.body, e.xssID) {
		t.Fatalf("message through web: %d %s", r.code, r.body)
	}
	if r := e2.apiCall(t, nil, "GET", "/api/v1/me", ""); r.code != 401 || r.h.Get("WWW-Authenticate") == "" {
		t.Fatalf("me through web: %d", r.code)
	}
}

// TestOpenAPISchemas: the schemas name the fields the handlers send: every
// field a response type encodes is a property, and every required property
// is encoded (a zero value omits only omitempty fields).
func TestOpenAPISchemas(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, v := range map[string]any{
		"SearchResult": apiSearchResult{}, "Hit": apiHit{}, "Message": apiMessage{}, "Attachment": apiAttachment{},
		"Me": apiMe{}, "Role": apiRole{}, "Justification": apiJustification{}, "JustificationRequest": apiJustifyRequest{},
		"Token": apiToken{}, "TokenList": apiTokenList{}, "NewToken": apiNewToken{}, "CreatedToken": apiCreatedToken{},
		"Status": web.Status{}, "Error": apiErrorBody{}, "Facet": apiFacet{}, "ExportRequest": apiExportRequest{},
	} {
		b, _ := json.Marshal(v)
		var got map[string]any
		json.Unmarshal(b, &got)
		s := schemas[name].(map[string]any)
		props := s["properties"].(map[string]any)
		for k := range got {
			if props[k] == nil {
				t.Errorf("%s: field %q is not in the schema", name, k)
			}
		}
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := got[k.(string)]; !ok && name != "NewToken" && name != "JustificationRequest" {
				t.Errorf("%s: required %q is not always sent", name, k)
			}
		}
		if len(props) < len(got) || name == "Message" && len(props) != len(got) {
			t.Errorf("%s: %d properties, %d fields", name, len(props), len(got))
		}
	}
}
