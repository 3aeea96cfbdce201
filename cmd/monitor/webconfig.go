package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// serveHTTP serves srv on ln the way Prometheus exporters do: with
// --web.config.file, TLS and basic auth come from that file (the
// exporter-toolkit format, re-read on every connection and request, so
// certificates and users change without a restart); without it, plain HTTP.
func serveHTTP(ln net.Listener, srv *http.Server, webConfig string, logger *slog.Logger) error {
	systemd := false
	return web.Serve(ln, srv, &web.FlagConfig{
		WebListenAddresses: &[]string{ln.Addr().String()},
		WebSystemdSocket:   &systemd,
		WebConfigFile:      &webConfig,
	}, slog.New(quieter{logger.Handler()}))
}

// quieter logs the toolkit's info lines ("Listening on", "TLS is
// disabled.") at debug: "monitor started" already says where we listen.
type quieter struct{ slog.Handler }

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelInfo {
		l = slog.LevelDebug
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.Handler.WithAttrs(as)} }
func (q quieter) WithGroup(name string) slog.Handler    { return quieter{q.Handler.WithGroup(name)} }

// webConfigUser returns whether a user is one of the web config's
// basic_auth_users right now. The toolkit checked the password before the
// request reached us; reading the file again (as the toolkit does on every
// request) means a user removed from it stops counting at once.
func webConfigUser(path string) func(user string) bool {
	return func(user string) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		var c struct {
			Users map[string]string `yaml:"basic_auth_users"`
		}
		if yaml.Unmarshal(b, &c) != nil {
			return false
		}
		_, ok := c.Users[user]
		return ok
	}
}
