package probes

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrJSONPath is wrapped by every json_path syntax error.
var ErrJSONPath = errors.New("invalid json_path")

// A small JSONPath subset, enough to point at a timestamp:
//
//	$                      the whole document
//	$.a.b  $['a']["b"]     object members
//	$.items[0]  $.items[-1] array elements (negative counts from the end)
//	$.items[*].ts  $.m.*   every element or member; the newest timestamp wins
//
// The leading "$" may be left out ("lastEventAt" means "$.lastEventAt").
type pathStep struct {
	key      string
	index    int
	isIndex  bool
	wildcard bool
}

func (s pathStep) String() string {
	switch {
	case s.wildcard:
		return "[*]"
	case s.isIndex:
		return "[" + strconv.Itoa(s.index) + "]"
	}
	return "." + s.key
}

// ValidateJSONPath reports whether path is in the subset the http source of
// a freshness check understands.
func ValidateJSONPath(path string) error {
	_, err := parseJSONPath(path)
	return err
}

func parseJSONPath(path string) ([]pathStep, error) {
	p := strings.TrimSpace(path)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrJSONPath, path, fmt.Sprintf(format, a...))
	}
	switch {
	case p == "" || p == "$":
		return nil, nil
	case p[0] == '$':
		p = p[1:]
	case p[0] != '.' && p[0] != '[':
		p = "." + p
	}
	var steps []pathStep
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
			if strings.HasPrefix(p, ".") {
				return nil, bad("recursive descent (..) is not supported")
			}
			if strings.HasPrefix(p, "*") {
				steps = append(steps, pathStep{wildcard: true})
				p = p[1:]
				continue
			}
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			if end == 0 {
				return nil, bad("empty member name")
			}
			steps = append(steps, pathStep{key: p[:end]})
			p = p[end:]
		case '[':
			p = p[1:]
			switch {
			case strings.HasPrefix(p, "*]"):
				steps = append(steps, pathStep{wildcard: true})
				p = p[2:]
			case strings.HasPrefix(p, "'") || strings.HasPrefix(p, `"`):
				quote := p[0]
				var key strings.Builder
				i := 1
				for ; i < len(p) && p[i] != quote; i++ {
					if p[i] == '\\' && i+1 < len(p) {
						i++
					}
					key.WriteByte(p[i])
				}
				if i+1 >= len(p) || p[i+1] != ']' {
					return nil, bad("unterminated quoted member")
				}
				steps = append(steps, pathStep{key: key.String()})
				p = p[i+2:]
			default:
				end := strings.IndexByte(p, ']')
				if end < 0 {
					return nil, bad("missing ]")
				}
				n, err := strconv.Atoi(strings.TrimSpace(p[:end]))
				if err != nil {
					return nil, bad("index %q is not an integer (filters and slices are not supported)", p[:end])
				}
				steps = append(steps, pathStep{index: n, isIndex: true})
				p = p[end+1:]
			}
		default:
			return nil, bad("unexpected %q", p[0])
		}
	}
	return steps, nil
}

// evalJSONPath returns the values the path selects in doc (decoded with
// encoding/json). Before a wildcard, a missing member or element is an
// error; after one, items without it are skipped, but at least one value
// must remain.
func evalJSONPath(doc any, steps []pathStep) ([]any, error) {
	cur := []any{doc}
	at := "$"
	multi := false
	for _, st := range steps {
		var next []any
		for _, v := range cur {
			switch {
			case st.wildcard:
				switch x := v.(type) {
				case []any:
					next = append(next, x...)
				case map[string]any:
					keys := make([]string, 0, len(x))
					for k := range x {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					for _, k := range keys {
						next = append(next, x[k])
					}
				default:
					if !multi {
						return nil, fmt.Errorf("%s is %s, not an array or object", at, jsonType(v))
					}
				}
			case st.isIndex:
				arr, ok := v.([]any)
				if !ok {
					if multi {
						continue
					}
					return nil, fmt.Errorf("%s is %s, not an array", at, jsonType(v))
				}
				i := st.index
				if i < 0 {
					i += len(arr)
				}
				if i < 0 || i >= len(arr) {
					if multi {
						continue
					}
					return nil, fmt.Errorf("index %d out of range at %s (length %d)", st.index, at, len(arr))
				}
				next = append(next, arr[i])
			default:
				obj, ok := v.(map[string]any)
				if !ok {
					if multi {
						continue
					}
					return nil, fmt.Errorf("%s is %s, not an object", at, jsonType(v))
				}
				val, ok := obj[st.key]
				if !ok {
					if multi {
						continue
					}
					return nil, fmt.Errorf("no member %q at %s", st.key, at)
				}
				next = append(next, val)
			}
		}
		if st.wildcard {
			multi = true
		}
		at += st.String()
		cur = next
	}
	if len(cur) == 0 {
		return nil, errors.New("no value matched")
	}
	return cur, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
