package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitor-dev/monitor/check"
)

// kindFields is one mapping of a check as a kind's decoder sees it
// (check.Fields): the decoder's reading functions, with every problem at
// its position.
type kindFields struct {
	d     *decoder
	f     fields
	lists map[string][]*yaml.Node // the items read by List, for ErrorfItem
}

var _ check.Fields = (*kindFields)(nil)

func newKindFields(d *decoder, f fields) *kindFields {
	return &kindFields{d: d, f: f, lists: map[string][]*yaml.Node{}}
}

func (k *kindFields) Has(key string) bool     { return k.f.has(key) }
func (k *kindFields) Str(key string) string   { return k.d.str(k.f, key) }
func (k *kindFields) Bool(key string) bool    { return k.d.boolean(k.f, key) }
func (k *kindFields) In() string              { return k.f.in() }
func (k *kindFields) Where() string           { return k.f.where }
func (k *kindFields) Secret(s string)         { k.d.secret(s) }
func (k *kindFields) Raw(key string) string   { return k.f.at(key).Value }
func (k *kindFields) Cluster() (bool, string) { return k.d.clusterOn, k.d.clusterLoc }
func (k *kindFields) Int(key string, def int) int {
	return k.d.integer(k.f, key, def)
}

func (k *kindFields) Float(key string, def float64) float64 {
	return k.d.float(k.f, key, def)
}

func (k *kindFields) Duration(key string, def time.Duration) time.Duration {
	return k.d.duration(k.f, key, def)
}

func (k *kindFields) List(key string) []string {
	var out []string
	k.lists[key] = k.d.list(k.f, key)
	for _, n := range k.lists[key] {
		out = append(out, n.Value)
	}
	return out
}

func (k *kindFields) Errorf(key, format string, args ...any) {
	var at *yaml.Node
	if key == "" {
		at = k.f.node
	} else {
		at = k.f.at(key)
	}
	k.d.errorf(at, "%s", fmt.Sprintf(format, args...))
}

func (k *kindFields) ErrorfItem(key string, i int, format string, args ...any) {
	items := k.lists[key]
	at := k.f.at(key)
	if i >= 0 && i < len(items) {
		at = items[i]
	}
	k.d.errorf(at, "%s", fmt.Sprintf(format, args...))
}

func (k *kindFields) Map(key, where string, known ...string) (check.Fields, bool) {
	sub := k.d.mapping(k.f.vals[key], where, known...)
	return newKindFields(k.d, sub), sub.ok
}

func (k *kindFields) DatabaseRef(key, name string) (string, bool) {
	db, ok := k.d.databaseRef(k.f, key, name)
	return db.DSN, ok
}

func (k *kindFields) Items(key string, known ...string) []check.Fields {
	var out []check.Fields
	for i, item := range k.d.items(k.f, key) {
		sub := k.d.mapping(item, fmt.Sprintf("%s #%d of %s", key, i+1, k.f.where), known...)
		if !sub.ok {
			continue
		}
		if isNull(item) {
			k.d.errorf(item, "%s #%d%s must be a mapping", key, i+1, k.f.in())
			continue
		}
		out = append(out, newKindFields(k.d, sub))
	}
	return out
}

func (k *kindFields) Pairs(key string) ([]string, check.Fields, bool) {
	n := k.f.vals[key]
	sub := k.d.mapping(n, key+" of "+k.f.where, mappingKeys(n)...)
	if !sub.ok || !k.f.has(key) {
		return nil, newKindFields(k.d, sub), sub.ok
	}
	var keys []string
	for _, name := range mappingKeys(n) {
		if _, ok := sub.keys[name]; ok && !slices.Contains(keys, name) {
			keys = append(keys, name)
		}
	}
	return keys, newKindFields(k.d, sub), true
}

func (k *kindFields) Path(key string) string {
	p := k.d.str(k.f, key)
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if dir := filepath.Dir(k.d.file); dir != "." && dir != "" {
		return filepath.Join(dir, p)
	}
	return p
}
