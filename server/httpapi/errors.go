package httpapi

import (
	"encoding/json"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// statuses maps gRPC codes to HTTP statuses and the code name in error
// bodies. Codes not listed are 500.
var statuses = map[codes.Code]struct {
	http int
	name string
}{
	codes.InvalidArgument:    {http.StatusBadRequest, "invalid_argument"},
	codes.FailedPrecondition: {http.StatusBadRequest, "failed_precondition"},
	codes.OutOfRange:         {http.StatusBadRequest, "out_of_range"},
	codes.Unauthenticated:    {http.StatusUnauthorized, "unauthenticated"},
	codes.PermissionDenied:   {http.StatusForbidden, "permission_denied"},
	codes.NotFound:           {http.StatusNotFound, "not_found"},
	codes.AlreadyExists:      {http.StatusConflict, "already_exists"},
	codes.Aborted:            {http.StatusConflict, "aborted"},
	codes.ResourceExhausted:  {http.StatusTooManyRequests, "resource_exhausted"},
	codes.Canceled:           {499, "canceled"},
	codes.Unimplemented:      {http.StatusNotImplemented, "unimplemented"},
	codes.Unavailable:        {http.StatusServiceUnavailable, "unavailable"},
	codes.DeadlineExceeded:   {http.StatusGatewayTimeout, "deadline_exceeded"},
}

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

// writeError answers with the status's HTTP equivalent. Internal and
// unknown errors are logged and answered without detail.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	m, ok := statuses[st.Code()]
	if !ok {
		s.logger.Error("http api: internal error", "code", st.Code().String(), "err", st.Message())
		writeJSON(w, http.StatusInternalServerError, errorBody{Code: "internal", Message: "internal error"})
		return
	}
	body := errorBody{Code: m.name, Message: st.Message()}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				body.FieldViolations = append(body.FieldViolations, fieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	writeJSON(w, m.http, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
