package probes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/monitor-dev/monitor/check"
)

// RedisSource is a key of a named redis database holding a timestamp or
// epoch seconds.
type RedisSource struct {
	// Database is the name of a redis:// database under databases:.
	Database string `yaml:"redis"`
	// Key holds the timestamp: RFC 3339 or epoch seconds/milliseconds.
	Key string `yaml:"key"`
}

var redisSourceType = sourceType{
	Zero: RedisSource{},
	Keys: []string{"redis", "key"},
	Want: "redis and key",
	Decode: func(src check.Fields) Source {
		s := RedisSource{Database: src.Str("redis"), Key: src.Str("key")}
		if dsn, ok := src.DatabaseRef("redis", s.Database); ok && !isRedis(dsn) {
			src.Errorf("redis", "database %q is not a redis:// database%s", s.Database, src.In())
		}
		if s.Key == "" {
			src.Errorf("key", "missing key%s", src.In())
		}
		return s
	},
}

// Subject implements Source.
func (RedisSource) Subject() string { return "newest record" }

// Newest implements Source.
func (s RedisSource) Newest(ctx context.Context, _ check.Spec, env *Env, timeout time.Duration) (time.Time, check.Reason, string) {
	if env == nil || env.Pool == nil {
		return time.Time{}, check.ReasonError, "no database pool configured"
	}
	c, err := env.Pool.Redis(s.Database)
	if err != nil {
		return time.Time{}, check.ReasonError, err.Error()
	}
	if s.Key == "" {
		return time.Time{}, check.ReasonError, "no key configured"
	}
	val, err := c.Get(ctx, s.Key).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, check.ReasonNoData, fmt.Sprintf("key %q does not exist", s.Key)
	}
	if err != nil {
		return noTime(describe(ctx, "get", err, timeout))
	}
	t, err := parseTimestamp(val)
	if err != nil {
		return time.Time{}, check.ReasonNoData, fmt.Sprintf("key %q: %v", s.Key, err)
	}
	return t, "", ""
}
