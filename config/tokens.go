package config

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxTokens bounds server.tokens.
const MaxTokens = 100

// tokenName is the form of a token's name: it is the actor of the audit
// trail, so it is short and plain.
var tokenName = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// tokens reads server.tokens: each entry is a plain string (named token-N
// by its 1-based position in the list) or a mapping {name, token} (or
// token_file). An empty token is left out, so that tokens: ["${TOKEN:-}"]
// means "no token" when TOKEN is unset. Names are unique, and so are
// tokens: a token names one actor.
func (d *decoder) tokens(server fields) (tokens, names []string) {
	items := d.items(server, "tokens")
	if len(items) > MaxTokens {
		d.errorf(server.at("tokens"), "more than %d tokens in server", MaxTokens)
		return nil, nil
	}
	nameAt := map[string]int{}     // name → line of its first use
	valueOf := map[string]string{} // token → the name of its first entry
	for i, item := range items {
		n := resolve(item)
		where := fmt.Sprintf("server.tokens #%d", i+1)
		var name, tok string
		var at, nameNode *yaml.Node
		switch {
		case n.Kind == yaml.ScalarNode && !isNull(n):
			name, tok, at, nameNode = fmt.Sprintf("token-%d", i+1), n.Value, n, n
			d.secret(tok)
		case n.Kind == yaml.MappingNode:
			f := d.mapping(n, where, "name", "token", "token_file")
			name, nameNode = d.str(f, "name"), f.at("name")
			switch {
			case !f.has("name"):
				d.errorf(f.node, "missing name in %s", where)
			case !tokenName.MatchString(name):
				d.errorf(nameNode, "invalid name %q in %s (want 1 to 64 lowercase letters, digits, _ . or -, like ops)", name, where)
				name = ""
			}
			if !f.has("token") && !f.has("token_file") {
				d.errorf(f.node, "missing token in %s (or token_file)", where)
				continue
			}
			tok, _ = d.secretValue(f, "token")
			at = f.at("token")
			if !f.has("token") {
				at = f.at("token_file")
			}
		default:
			d.errorf(n, "tokens in server must be a list of tokens: strings, or mappings {name, token}")
			continue
		}
		if name != "" {
			if line, dup := nameAt[name]; dup {
				d.errorf(nameNode, "duplicate token name %q in %s (first at line %d)", name, where, line)
			} else {
				nameAt[name] = nameNode.Line
			}
		}
		if strings.TrimSpace(tok) == "" {
			continue
		}
		// The server trims what it compares: so does this.
		key := strings.TrimSpace(tok)
		if first, dup := valueOf[key]; dup {
			d.errorf(at, "the token of %s is the same as that of %s (each token names one actor)", where, first)
			continue
		}
		valueOf[key] = where
		tokens = append(tokens, tok)
		names = append(names, name)
	}
	return tokens, names
}
