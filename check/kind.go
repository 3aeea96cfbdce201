package check

import (
	"sync"
	"time"
)

// Behaviour is what differs per kind of check outside its probe. Each kind
// registers its own (package probes, one file per kind), so the scheduler,
// the SLA rules and the health renderer ask the kind instead of switching
// on it. The zero value is the behaviour of a plain check.
type Behaviour struct {
	// TimeoutStatus is the status of a run cut by its timeout: FAIL (the
	// default: the thing did not answer) or UNKNOWN (the check could not
	// tell, e.g. freshness).
	TimeoutStatus Status
	// ComponentType is the check's componentType in application/health+json;
	// empty means "component".
	ComponentType string
	// Items means a run checks many items (the links of a link check) and
	// its result carries one result per item (Result.Links): the timeout
	// bounds each item, not the run (a run is bounded by the interval
	// instead), and the item series of /metrics and the links API show them.
	Items bool
	// Within is the within-SLA rule for a result of sp; nil means "it
	// passed".
	Within func(r Result, sp Spec) bool
	// Chart names the kind's observed value on the public status page
	// ("Response time", "Data age"), a duration in seconds whose daily
	// average and maximum it draws; empty draws no chart (a link
	// check's value is a count of failing links, which is not public).
	Chart string
}

var (
	kindsMu    sync.RWMutex
	behaviours = map[Kind]Behaviour{}
)

// RegisterKind records the behaviour of kind k. It is called once per kind
// at start-up, by the package that owns the kind.
func RegisterKind(k Kind, b Behaviour) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	behaviours[k] = b
}

// Behaviour is the registered behaviour of k; the zero Behaviour when k
// was not registered.
func (k Kind) Behaviour() Behaviour {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return behaviours[k]
}

// TimeoutResult is the result of a run of s cut by its timeout.
func (s Spec) TimeoutResult(timeout time.Duration) Result {
	msg := "timed out after " + timeout.String()
	r := s.FailResult(msg)
	if s.Kind.Behaviour().TimeoutStatus == Unknown {
		r = s.UnknownResult(msg)
	}
	r.Reason = ReasonTimeout
	return r
}

// ComponentType is the componentType of a check of kind k in
// application/health+json.
func (k Kind) ComponentType() string {
	if t := k.Behaviour().ComponentType; t != "" {
		return t
	}
	return "component"
}

// Within is the within-SLA rule: whether result r of this check counts as
// within the SLA. The kind decides; by default, whether it passed.
func (s Spec) Within(r Result) bool {
	if w := s.Kind.Behaviour().Within; w != nil {
		return w(r, s)
	}
	return r.Status == Pass
}

// Fields is the YAML mapping of one check as the decoder of its kind sees
// it (package config implements it). A decoder reports every problem with
// Errorf, at the position of the key (file:line:col), and goes on, so that
// every problem of a file is reported at once.
type Fields interface {
	// Has reports whether key is set (to something other than null).
	Has(key string) bool
	// Str, Duration, Int, Float and Bool read a scalar key; a missing key
	// gives the zero value or def, a malformed one is reported.
	Str(key string) string
	Duration(key string, def time.Duration) time.Duration
	Int(key string, def int) int
	Float(key string, def float64) float64
	Bool(key string) bool
	// List reads a list of scalars.
	List(key string) []string
	// Raw is the value of a scalar key as written.
	Raw(key string) string
	// Errorf reports a problem at key (at the mapping when key is absent).
	Errorf(key, format string, args ...any)
	// ErrorfItem reports a problem at item i of the list at key.
	ErrorfItem(key string, i int, format string, args ...any)
	// In is the " in check \"x\"" suffix of messages about this mapping.
	In() string
	// Where names this mapping, for messages: check "x".
	Where() string
	// Map reads key as a mapping with these known keys, named where in
	// messages; ok is false when it is not a mapping (reported).
	Map(key, where string, known ...string) (sub Fields, ok bool)
	// DatabaseRef reports a missing or undefined database name at key and
	// returns the database's DSN.
	DatabaseRef(key, name string) (dsn string, ok bool)
	// Secret keeps s out of every message and log (a password in a URL).
	Secret(s string)
	// Items reads key as a list of mappings with these known keys (item i
	// is named "key #i of" this mapping in messages).
	Items(key string, known ...string) []Fields
	// Pairs reads key as a mapping of free keys (HTTP headers), giving its
	// keys in file order; read each value with sub.Str. ok is false when it
	// is not a mapping (reported).
	Pairs(key string) (keys []string, sub Fields, ok bool)
	// Cluster reports whether the configuration enables cluster mode
	// (cluster.enabled) and this replica's cluster.location, for keys that
	// only work with replicas.
	Cluster() (enabled bool, location string)
	// Path reads a file path; a relative one is resolved against the
	// directory of the configuration file.
	Path(key string) string
}
