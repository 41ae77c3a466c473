package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/flagpole/flagpole/server"
)

// statuses is the HTTP adapter's one table: domain error codes to HTTP
// statuses and the code names of error bodies (those of the gRPC codes the
// gRPC adapter maps the same errors to). Codes not listed are 500.
var statuses = map[string]struct {
	http int
	name string
}{
	server.EINVALID:        {http.StatusBadRequest, "invalid_argument"},
	server.EUNAUTHORIZED:   {http.StatusUnauthorized, "unauthenticated"},
	server.EFORBIDDEN:      {http.StatusForbidden, "permission_denied"},
	server.ENOTFOUND:       {http.StatusNotFound, "not_found"},
	server.EEXISTS:         {http.StatusConflict, "already_exists"},
	server.ECONFLICT:       {http.StatusConflict, "aborted"},
	server.ENOTIMPLEMENTED: {http.StatusNotImplemented, "unimplemented"},
	server.EUNAVAILABLE:    {http.StatusServiceUnavailable, "unavailable"},
	codeCanceled:           {499, "canceled"},
	codeDeadline:           {http.StatusGatewayTimeout, "deadline_exceeded"},
}

// Codes of the context's errors, which are no *server.Error: the caller
// went away, or its deadline passed.
const (
	codeCanceled = "canceled"
	codeDeadline = "deadline_exceeded"
)

// errorBody is the JSON of every API error.
type errorBody struct {
	Code            string           `json:"code"`
	Message         string           `json:"message"`
	FieldViolations []fieldViolation `json:"fieldViolations,omitempty"`
}

type fieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// writeError answers with the HTTP status of err's code: a *server.Error
// found in err (gRPC status errors of the services keep theirs as their
// cause) or the context's errors. Internal and unknown errors are logged
// and answered without detail.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	writeError(w, s.logger, err)
}

func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	status, body := errorResponse(err)
	if status == http.StatusInternalServerError {
		log.Error("http api: internal error", "err", err)
	}
	writeJSON(w, status, body)
}

// errorResponse is the status and body of err.
func errorResponse(err error) (int, errorBody) {
	code, message := server.ErrorCode(err), server.ErrorMessage(err)
	switch {
	case errors.Is(err, context.Canceled):
		code, message = codeCanceled, "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		code, message = codeDeadline, "deadline exceeded"
	}
	m, ok := statuses[code]
	if !ok {
		return http.StatusInternalServerError, errorBody{Code: "internal", Message: "internal error"}
	}
	body := errorBody{Code: m.name, Message: message}
	var e *server.Error
	if errors.As(err, &e) && e.Code == server.EINVALID && e.Field != "" {
		body.FieldViolations = []fieldViolation{{Field: e.Field, Description: e.Message}}
	}
	return m.http, body
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
