package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// maxJSONBody bounds a JSON request body.
const maxJSONBody = 64 << 10

// jsonContentType reports whether a request's Content-Type says JSON:
// application/json or any application/*+json. A request without one is
// taken as JSON, so that plain scripts (http.Post(url, "", body), wget)
// work; a body declared as something else (text/plain, a form) is refused.
func jsonContentType(r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return "", true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct, false
	}
	return mt, mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// decodeJSON reads a bounded JSON body into v (a pointer to a struct),
// answering 400, 413 or 415 itself. Errors speak of the body's fields and
// their place in it (line and column), never of Go types; shape is an
// example of a valid body.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	if mt, ok := jsonContentType(r); !ok {
		writeError(w, r, CodeUnsupportedMedia,
			"Content-Type must be application/json (curl: -H 'Content-Type: application/json', or --json)",
			map[string]any{"contentType": mt})
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, r, CodeTooLarge, "Body larger than 64 KiB", map[string]any{"max": maxJSONBody})
			return false
		}
		writeError(w, r, CodeInvalidRequest, "The body could not be read", nil)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		desc, details := jsonProblem(body, err, v, shape)
		writeError(w, r, CodeInvalidRequest, desc, details)
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		off := int(dec.InputOffset())
		writeError(w, r, CodeInvalidRequest, "Body has data after the JSON object", position(body, off, nil))
		return false
	}
	if name, ok := inexactField(body, v); !ok {
		// encoding/json matches field names without regard to case:
		// {"URLS": [...]} would pass for "urls".
		writeError(w, r, CodeInvalidRequest, fmt.Sprintf("Unknown field %q; the body takes %s", clip(name), fieldNames(v)),
			map[string]any{"field": clip(name)})
		return false
	}
	return true
}

// inexactField finds a top-level key of the JSON object body that is not
// spelled exactly as one of v's JSON fields; ok when there is none.
func inexactField(body []byte, v any) (name string, ok bool) {
	var keys map[string]json.RawMessage
	if json.Unmarshal(body, &keys) != nil {
		return "", true // not an object (null): the decode above judged it
	}
	want := map[string]bool{}
	for _, n := range strings.Split(strings.TrimPrefix(fieldNames(v), "only "), ", ") {
		want[strings.Trim(n, `"`)] = true
	}
	for k := range keys {
		if !want[k] {
			return k, false
		}
	}
	return "", true
}

// jsonProblem says what is wrong with a body in its own terms: the field,
// what it must be, and where.
func jsonProblem(body []byte, err error, v any, shape string) (string, map[string]any) {
	var typeErr *json.UnmarshalTypeError
	var synErr *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return "Body is empty; send " + shape, nil
	case errors.As(err, &typeErr):
		field, _, _ := strings.Cut(typeErr.Field, ".")
		details := position(body, int(typeErr.Offset), map[string]any{"got": typeErr.Value})
		if field == "" {
			return "Body must be a JSON object like " + shape + " (got " + article(typeErr.Value) + ")", details
		}
		details["field"] = field
		return fmt.Sprintf("%s must be %s (got %s)", field, describeField(v, field), article(typeErr.Value)), details
	case errors.As(err, &synErr):
		return "Body is not valid JSON: " + synErr.Error(), position(body, int(synErr.Offset), nil)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Body ends inside the JSON; send " + shape, position(body, len(body)+1, nil)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Sprintf("Unknown field %s; the body takes %s", name, fieldNames(v)),
			map[string]any{"field": strings.Trim(name, `"`)}
	}
	return "Body is not valid JSON; send " + shape, nil
}

// position is the line and column (from 1) of the last byte the decoder
// read before it stopped: off bytes in, the offending character or the end
// of the offending value.
func position(body []byte, off int, details map[string]any) map[string]any {
	if details == nil {
		details = map[string]any{}
	}
	idx := min(max(off-1, 0), len(body))
	before := body[:idx]
	line := bytes.Count(before, []byte("\n")) + 1
	col := idx - bytes.LastIndexByte(before, '\n')
	details["line"], details["column"] = line, col
	return details
}

// article is a JSON kind with its article: "a string", "an array".
func article(kind string) string {
	switch kind {
	case "array", "object":
		return "an " + kind
	case "number", "string", "bool":
		if kind == "bool" {
			kind = "boolean"
		}
		return "a " + kind
	}
	return kind
}

// describeField says what JSON field name of the struct v points to must be.
func describeField(v any, name string) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
				return describeType(f.Type)
			}
		}
	}
	return "of another type"
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		elem := strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ")
		return "an array of " + elem + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "of another type"
}

// fieldNames lists the JSON fields of the struct v points to: "urls".
func fieldNames(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag != "" && tag != "-" {
				names = append(names, `"`+tag+`"`)
			}
		}
	}
	if len(names) == 0 {
		return "no fields"
	}
	return "only " + strings.Join(names, ", ")
}
