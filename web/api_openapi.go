package web

import (
	_ "embed"
	"net/http"
)

// openAPI documents every route the server registers; a test keeps the two in step.
//
//go:embed openapi.json
var openAPI []byte

func (a *api) docRoutes() []Route {
	return []Route{
		{Pattern: "GET /api/v1/openapi.json", Name: "openapi", Policy: Policy{Public: true}, Handler: http.HandlerFunc(serveOpenAPI)},
	}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPI)
}
