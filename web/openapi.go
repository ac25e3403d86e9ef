package web

import (
	"bytes"
	_ "embed"
)

// openAPI is the OpenAPI 3.1 document of the edge's HTTP API. It is the
// machine-readable twin of docs/api.md; edge/openapi_test.go checks real
// responses of every route against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the HTTP API, as JSON. The edge
// serves it at /openapi.json. Each call returns a fresh copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }
