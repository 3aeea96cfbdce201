package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Error codes of the contract's error envelope.
const (
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidSeverity is a 400 for a severity outside the allowed
	// values (details: field, allowed).
	CodeInvalidSeverity  = "invalid_severity"
	CodeMissingToken     = "missing_bearer_token"
	CodeInvalidToken     = "invalid_token"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "payload_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal_error"
	// CodeUnavailable is a 503 (with Retry-After) for a part that is not
	// running yet or is down, such as alerting before its store is open.
	CodeUnavailable = "unavailable"
)

var codeStatus = map[string]int{
	CodeInvalidRequest:   http.StatusBadRequest,
	CodeMissingToken:     http.StatusUnauthorized,
	CodeInvalidToken:     http.StatusUnauthorized,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	CodeRateLimited:      http.StatusTooManyRequests,
	CodeInternal:         http.StatusInternalServerError,
	CodeInvalidSeverity:  http.StatusBadRequest,
	CodeUnavailable:      http.StatusServiceUnavailable,
}

// envelope is the body of every non-2xx JSON answer.
type envelope struct {
	Error       string         `json:"error"`
	Description string         `json:"error_description"`
	RequestID   string         `json:"request_id"`
	Timestamp   string         `json:"timestamp"`
	Details     map[string]any `json:"details"`
}

// writeError writes the error envelope with the code's HTTP status.
func writeError(w http.ResponseWriter, r *http.Request, code, desc string, details map[string]any) {
	status, ok := codeStatus[code]
	if !ok {
		status, code = http.StatusInternalServerError, CodeInternal
	}
	if details == nil {
		details = map[string]any{}
	}
	body, _ := json.Marshal(envelope{
		Error: code, Description: desc, RequestID: requestID(r),
		Timestamp: time.Now().UTC().Format(time.RFC3339), Details: details,
	})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// maxEcho bounds what an error message repeats of the request (a path, a
// method, a name from the query): a 900 KB path must not come back whole.
const maxEcho = 200

// clip shortens caller-supplied text to maxEcho bytes, cut at a rune
// boundary and marked with "…".
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
