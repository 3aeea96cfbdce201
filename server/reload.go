package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// ReloadResult is what a reload that took effect reports.
type ReloadResult struct {
	Checks int // checks of the config now running
	// RestartNeeded names the settings the new config changes that only a
	// restart applies (server.listen, storage); the old values keep running.
	RestartNeeded []string
}

// ReloadRefused is the error of a reload that did not take effect: the
// previous config keeps running. Problems are shown to the caller as they
// are (file:line:col: message for a config problem), so they must carry
// no secret.
type ReloadRefused struct {
	Stage    string   // config, statuspage, alerting, databases or scheduling
	Problems []string // one line each
}

func (e *ReloadRefused) Error() string {
	return "reload refused (" + e.Stage + "): " + strings.Join(e.Problems, "; ")
}

// ErrReloadUnavailable is the error of a reload asked for while the daemon
// cannot take one (it is stopping).
var ErrReloadUnavailable = errors.New("reload unavailable")

// Reloader applies the config file again, one reload at a time (also with
// SIGHUP), all or nothing. actor names who asked, for the audit trail. It
// returns a *ReloadRefused when the previous config keeps running.
type Reloader func(ctx context.Context, actor string) (ReloadResult, error)

// SetReloader mounts what POST /-/reload runs.
func (s *Server) SetReloader(f Reloader) { s.reloader.Store(&f) }

func (s *Server) routeReload() {
	s.mux.Handle("POST /-/reload", s.private(http.HandlerFunc(s.reload)))
}

// reload answers POST /-/reload, as Prometheus names it: 200
// {"status":"reloaded","checks":N} when the new config took effect (with
// "restartRequired":["server.listen","storage"] when it moves what only a
// restart moves), 400
// invalid_request with every problem in details.problems when it was
// refused (the previous config keeps running).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	f := s.reloader.Load()
	if f == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, r, CodeUnavailable, "Reload is not available", nil)
		return
	}
	res, err := (*f)(r.Context(), actorOf(r))
	var refused *ReloadRefused
	switch {
	case err == nil:
		ans := map[string]any{"status": "reloaded", "checks": res.Checks}
		if len(res.RestartNeeded) > 0 {
			ans["restartRequired"] = res.RestartNeeded
		}
		writeJSON(w, http.StatusOK, ans)
	case errors.As(err, &refused):
		problems := refused.Problems
		if problems == nil {
			problems = []string{}
		}
		desc := "The config was not reloaded (" + strconv.Itoa(len(problems)) + " problem"
		if len(problems) != 1 {
			desc += "s"
		}
		writeError(w, r, CodeInvalidRequest, desc+"); the previous config keeps running",
			map[string]any{"stage": refused.Stage, "problems": problems})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The caller left while another reload ran: nothing was done.
		w.Header().Set("Retry-After", "1")
		writeError(w, r, CodeUnavailable, "No reload was started: another one was running", nil)
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, r, CodeUnavailable, "Reload is not available now", nil)
	}
}
