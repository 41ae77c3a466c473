// Package openapi holds the OpenAPI (Swagger 2.0) document of Flagpole's
// HTTP JSON API, flagpole.swagger.json. protoc-gen-openapiv2 generates it
// (see buf.gen.yaml) from the google.api.http annotations of the flagpole.v1
// protos, server/httpapi/sync_http.yaml and proto/openapiv2.yaml, with the
// proto comments as its descriptions; CI checks that it is current. The
// server serves it at GET /api/v1/openapi.json.
package openapi

import _ "embed"

// JSON is the document.
//
//go:embed flagpole.swagger.json
var JSON []byte
