package alerting

import (
	"testing"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// step is one input to the machine: an outcome (or a tick when out is
// "tick"), at an offset from t0, and what decide must say then.
type step struct {
	at     time.Duration
	out    string // outFail, outPass, outKeep or "tick"
	sev    check.Severity
	mute   bool
	status string // decision status, "" for nothing
	notice string
}

func testConfig() Config {
	c := DefaultConfig
	c.FailureThreshold, c.SuccessThreshold = 2, 1
	c.RepeatInterval = 4 * time.Hour
	c.Flapping = Flapping{Changes: 6, Window: 30 * time.Minute}
	return c
}

func run(t *testing.T, cfg Config, steps []step) *alert {
	t.Helper()
	a := &alert{ID: "check:x", Check: "x"}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.out != "tick" {
			sev := s.sev
			if sev == "" {
				sev = check.Warn
			}
			a.observe(s.out, sev, cfg, now)
		}
		a.Silenced = s.mute
		d := a.decide(cfg.Flapping, cfg.RepeatInterval, now)
		if d.Status != s.status || d.Notice != s.notice {
			t.Fatalf("step %d (%s at +%s): decided %q/%q, want %q/%q (alert %+v)",
				i, s.out, s.at, d.Status, d.Notice, s.status, s.notice, a)
		}
	}
	return a
}

const (
	firing = receiver.StatusFiring
	res    = receiver.StatusResolved
)

func TestThresholds(t *testing.T) {
	cfg := testConfig()
	a := run(t, cfg, []step{
		{at: 0, out: outFail},                               // 1 of 2
		{at: time.Minute, out: outPass},                     // blip: counting restarts
		{at: 2 * time.Minute, out: outFail},                 // 1 of 2
		{at: 3 * time.Minute, out: outFail, status: firing}, // 2 of 2: fires once
		{at: 4 * time.Minute, out: outFail},                 // still firing: nothing
		{at: 5 * time.Minute, out: outPass, status: res},    // success_threshold 1
		{at: 6 * time.Minute, out: outPass},
	})
	if a.Firing || !a.StartsAt.Equal(t0.Add(3*time.Minute)) || !a.EndsAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("episode %s..%s firing=%v, want 10:03..10:05 resolved", a.StartsAt, a.EndsAt, a.Firing)
	}

	cfg.FailureThreshold, cfg.SuccessThreshold = 3, 2
	run(t, cfg, []step{
		{at: 0, out: outFail}, {at: 1 * time.Minute, out: outFail},
		{at: 2 * time.Minute, out: outFail, status: firing},
		{at: 3 * time.Minute, out: outPass}, // 1 of 2
		{at: 4 * time.Minute, out: outFail}, // back to counting passes from 0
		{at: 5 * time.Minute, out: outPass},
		{at: 6 * time.Minute, out: outPass, status: res},
	})
}

func TestRepeatAndSeverityChange(t *testing.T) {
	cfg := testConfig()
	run(t, cfg, []step{
		{at: 0, out: outFail},
		{at: time.Minute, out: outFail, status: firing},
		{at: 2 * time.Hour, out: "tick"},
		{at: 3 * time.Hour, out: outFail, sev: check.Critical, status: firing, notice: receiver.NoticeSeverity},
		{at: 5 * time.Hour, out: "tick"}, // 2h after the severity notice
		{at: 7 * time.Hour, out: "tick", status: firing, notice: receiver.NoticeRepeat},
		{at: 8 * time.Hour, out: "tick"},
		{at: 11 * time.Hour, out: "tick", status: firing, notice: receiver.NoticeRepeat},
		{at: 12 * time.Hour, out: outPass, status: res},
		{at: 20 * time.Hour, out: "tick"}, // no repeat of a resolved alert
	})
	cfg.RepeatInterval = 0
	run(t, cfg, []step{
		{at: 0, out: outFail},
		{at: time.Minute, out: outFail, status: firing},
		{at: 100 * time.Hour, out: "tick"},
	})
}

func TestPeakSeverity(t *testing.T) {
	cfg := testConfig()
	a := run(t, cfg, []step{
		{at: 0, out: outFail}, {at: time.Minute, out: outFail, status: firing},
		{at: 2 * time.Minute, out: outFail, sev: check.Critical, status: firing, notice: receiver.NoticeSeverity},
		{at: 3 * time.Minute, out: outFail, sev: check.Warn, status: firing, notice: receiver.NoticeSeverity},
	})
	if a.Severity != check.Warn || a.Peak != check.Critical {
		t.Fatalf("severity %s peak %s, want WARN and CRITICAL", a.Severity, a.Peak)
	}
}

func TestUnknownModes(t *testing.T) {
	unknown := check.Result{Status: check.Unknown}
	parent := check.Result{Status: check.Unknown, Reason: check.ReasonParentFailing}
	for _, tc := range []struct {
		mode string
		r    check.Result
		want string
	}{
		{"", unknown, outKeep},
		{UnknownKeep, unknown, outKeep},
		{UnknownFire, unknown, outFail},
		{UnknownResolve, unknown, outPass},
		{UnknownFire, parent, outKeep},
		{UnknownResolve, parent, outKeep},
		{UnknownFire, check.Result{Status: check.Unknown, Reason: check.ReasonNotRun}, outKeep},
		{UnknownFire, check.Result{Status: check.Unknown, Reason: check.ReasonCanceled}, outKeep},
		{UnknownKeep, check.Result{Status: check.Fail}, outFail},
		{UnknownFire, check.Result{Status: check.Pass}, outPass},
	} {
		if got := outcome(tc.r, tc.mode); got != tc.want {
			t.Errorf("outcome(%s %s, %q) = %q, want %q", tc.r.Status, tc.r.Reason, tc.mode, got, tc.want)
		}
	}
	// keep: UNKNOWN runs between failures neither fire nor reset the count,
	// and neither resolve a firing alert.
	cfg := testConfig()
	run(t, cfg, []step{
		{at: 0, out: outFail}, {at: time.Minute, out: outKeep}, {at: 2 * time.Minute, out: outKeep},
		{at: 3 * time.Minute, out: outFail, status: firing},
		{at: 4 * time.Minute, out: outKeep}, {at: 5 * time.Minute, out: outKeep},
		{at: 6 * time.Minute, out: outPass, status: res},
	})
}

func TestFlapping(t *testing.T) {
	cfg := testConfig()
	cfg.FailureThreshold = 1
	cfg.Flapping = Flapping{Changes: 3, Window: 30 * time.Minute}
	steps := []step{
		{at: 0, out: outFail, status: firing},
		{at: 1 * time.Minute, out: outPass, status: res},                                     // change 1
		{at: 2 * time.Minute, out: outFail, status: firing},                                  // change 2
		{at: 3 * time.Minute, out: outPass, status: res},                                     // change 3
		{at: 4 * time.Minute, out: outFail, status: firing, notice: receiver.NoticeFlapping}, // change 4 > 3
		{at: 5 * time.Minute, out: outPass},                                                  // quiet
		{at: 6 * time.Minute, out: outFail},
		{at: 7 * time.Minute, out: outPass},
		{at: 8 * time.Minute, out: outFail},
		{at: 20 * time.Minute, out: outFail},
		{at: 37 * time.Minute, out: "tick"}, // 29 min since the last change: still flapping
		// A whole window without a change: stable, firing; receivers were
		// told firing by the notice before flapping, so nothing new.
		{at: 38 * time.Minute, out: "tick"},
		{at: 39 * time.Minute, out: outPass, status: res},
	}
	run(t, cfg, steps)

	// Stable in the resolved state after a told firing: the resolution.
	run(t, cfg, []step{
		{at: 0, out: outFail, status: firing},
		{at: 1 * time.Minute, out: outPass, status: res},
		{at: 2 * time.Minute, out: outFail, status: firing},
		{at: 3 * time.Minute, out: outPass, status: res},
		{at: 4 * time.Minute, out: outFail, status: firing, notice: receiver.NoticeFlapping},
		{at: 5 * time.Minute, out: outPass}, // quiet although told firing
		{at: 36 * time.Minute, out: "tick", status: res},
		{at: 37 * time.Minute, out: outFail, status: firing},
	})

	// Turned off.
	cfg.Flapping = Flapping{}
	var off []step
	for i := range 20 {
		s := step{at: time.Duration(i) * time.Minute, out: outFail, status: firing}
		if i%2 == 1 {
			s.out, s.status = outPass, res
		}
		off = append(off, s)
	}
	a := run(t, cfg, off)
	if len(a.Changes) != 0 {
		t.Fatalf("flap detection off kept %d changes", len(a.Changes))
	}
}

func TestFlapChangesBounded(t *testing.T) {
	a := &alert{}
	f := Flapping{Changes: 4, Window: time.Hour}
	for i := range 1000 {
		out := outFail
		if i%2 == 0 {
			out = outPass
		}
		a.noteChange(out, f, t0.Add(time.Duration(i)*time.Second))
	}
	if len(a.Changes) > f.Changes+1 {
		t.Fatalf("kept %d changes, want at most %d", len(a.Changes), f.Changes+1)
	}
}

func TestMuteEnd(t *testing.T) {
	cfg := testConfig()
	// Failing under a silence: not told; still failing when it ends: fires once.
	run(t, cfg, []step{
		{at: 0, out: outFail, mute: true},
		{at: time.Minute, out: outFail, mute: true},
		{at: 2 * time.Minute, out: outFail, mute: true},
		{at: 3 * time.Minute, out: "tick", status: firing},
		{at: 4 * time.Minute, out: outFail},
		{at: 5 * time.Minute, out: outPass, status: res},
	})
	// Recovered under the silence: resolves silently.
	a := run(t, cfg, []step{
		{at: 0, out: outFail, mute: true},
		{at: time.Minute, out: outFail, mute: true},
		{at: 2 * time.Minute, out: outPass, mute: true},
		{at: 3 * time.Minute, out: "tick"},
		{at: 4 * time.Minute, out: outPass},
	})
	if a.Told || a.Firing {
		t.Fatalf("told %v firing %v after a silent recovery", a.Told, a.Firing)
	}
	// Told before the silence: no repeats while muted, but the resolution
	// closes the receivers' incident.
	run(t, cfg, []step{
		{at: 0, out: outFail}, {at: time.Minute, out: outFail, status: firing},
		{at: 5 * time.Hour, out: outFail, mute: true},
		{at: 6 * time.Hour, out: outPass, mute: true, status: res},
	})
	// Severity changed under the silence: told when it ends.
	run(t, cfg, []step{
		{at: 0, out: outFail}, {at: time.Minute, out: outFail, status: firing},
		{at: 2 * time.Minute, out: outFail, sev: check.Critical, mute: true},
		{at: 3 * time.Minute, out: "tick", status: firing, notice: receiver.NoticeSeverity},
	})
}

func TestEnqueue(t *testing.T) {
	a := &alert{}
	a.enqueue(decision{Status: firing}, t0)
	a.enqueue(decision{Status: res}, t0.Add(time.Second))
	if a.Outbox != nil {
		t.Fatalf("a firing resolved before any group carried it left %+v", a.Outbox)
	}
	a.enqueue(decision{Status: firing}, t0)
	a.Outbox.Flushed = []string{"g1"}
	a.enqueue(decision{Status: res}, t0.Add(time.Second))
	if q := a.Outbox; q == nil || q.Status != res || len(q.Flushed) != 0 {
		t.Fatalf("resolution after a partly carried firing: %+v", q)
	}
	a.Outbox = nil
	a.enqueue(decision{Status: firing, Notice: receiver.NoticeSeverity}, t0)
	a.enqueue(decision{Status: firing, Notice: receiver.NoticeRepeat}, t0)
	if a.Outbox.Notice != receiver.NoticeSeverity {
		t.Fatalf("a repeat hid a severity notice: %+v", a.Outbox)
	}
}
