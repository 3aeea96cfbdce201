package probes

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Source is where a freshness check reads the time of its newest record.
// Each source is its own type in its own file (source_*.go) with a
// sourceType in freshnessSources; a new source is that file plus one line
// there.
type Source interface {
	// Subject names the timestamp in messages: "newest row", "file".
	Subject() string
	// Newest reads the newest timestamp, or gives the reason and why there
	// is none. It must honour ctx's deadline (timeout is the check's, for
	// messages).
	Newest(ctx context.Context, spec check.Spec, env *Env, timeout time.Duration) (time.Time, check.Reason, string)
}

// sourceType is one kind of source as the decoder sees it.
type sourceType struct {
	// Keys are the source's keys under `source:`; the first names it.
	Keys []string
	// Want is how the "empty source" message offers it: "redis and key".
	Want string
	// Used tells whether a source mapping chooses this type; nil means
	// "any of its keys is set".
	Used func(src check.Fields) bool
	// Decode reads and checks the keys (reporting every problem at its
	// position) into the source.
	Decode func(src check.Fields) Source
	// Zero is the source's zero value: its fields' yaml tags and comments
	// document its keys (docs/config.md).
	Zero Source
}

// Sources lists the zero value of every freshness source, in registry
// order, for the configuration reference.
func Sources() []Source {
	out := make([]Source, len(freshnessSources))
	for i, st := range freshnessSources {
		out[i] = st.Zero
	}
	return out
}

// freshnessSources is the registry of sources, one line each: exactly one
// may be used by a check, and the "empty source" message offers them in
// this order.
var freshnessSources = []sourceType{
	sqlSourceType,
	httpSourceType,
	redisSourceType,
	fileSourceType,
	heartbeatSourceType,
}

func (st sourceType) used(src check.Fields) bool {
	if st.Used != nil {
		return st.Used(src)
	}
	return slices.ContainsFunc(st.Keys, src.Has)
}

// orList writes a, b, or c.
func orList(words []string) string {
	if len(words) < 3 {
		return strings.Join(words, " or ")
	}
	return strings.Join(words[:len(words)-1], ", ") + ", or " + words[len(words)-1]
}
