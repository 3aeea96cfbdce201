package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
)

// collector gathers published results.
type collector struct {
	mu      sync.Mutex
	results []check.Result
}

func (c *collector) publish(r check.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results = append(c.results, r)
}

func (c *collector) of(name string) []check.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []check.Result
	for _, r := range c.results {
		if r.Check == name {
			out = append(out, r)
		}
	}
	return out
}

// maxFirst is the latest a first run may come with a 2s MaxJitter: the
// jitter, its 10ms floor and the rounding up to the start grid.
const maxFirst = 2*time.Second + 10*time.Millisecond + startGrid

// register adds a probe kind for the duration of a test.
func register(t *testing.T, kind check.Kind, fn probes.ProbeFn) {
	t.Helper()
	t.Cleanup(probes.Register(probes.Kind{Name: kind, Probe: fn}))
}

func newSched(t *testing.T, c *collector) *Scheduler {
	t.Helper()
	s, err := New(Options{Env: &probes.Env{}, Publish: c.publish, MaxJitter: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunsOnInterval(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		start := time.Now()
		err := s.Apply([]check.Spec{
			{Name: "fast", Kind: "t_ok", Interval: 10 * time.Second, Timeout: 5 * time.Second},
			{Name: "slow", Kind: "t_ok", Interval: time.Minute, Timeout: 5 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		fast, slow := c.of("fast"), c.of("slow")
		// First run within the 2s jitter, then every 10s: 60 or 61 runs.
		if len(fast) < 60 || len(fast) > 61 {
			t.Fatalf("fast ran %d times in 10m at 10s, want 60 or 61", len(fast))
		}
		if len(slow) < 10 || len(slow) > 11 {
			t.Fatalf("slow ran %d times in 10m at 1m, want 10 or 11", len(slow))
		}
		if first := fast[0].CheckedAt.Sub(start); first <= 0 || first > maxFirst {
			t.Fatalf("first run %s after start, want within the 2s jitter and the start grid", first)
		}
		for i := 1; i < len(fast); i++ {
			if gap := fast[i].CheckedAt.Sub(fast[i-1].CheckedAt); gap != 10*time.Second {
				t.Fatalf("run %d came %s after the previous, want exactly 10s", i, gap)
			}
		}
		if r := fast[0]; r.Check != "fast" || r.Kind != "t_ok" || r.Status != check.Pass || r.Severity != check.Info {
			t.Fatalf("result fields not filled: %+v", r)
		}
	})
}

func TestNeverOverlapsItself(t *testing.T) {
	var running, maxRunning atomic.Int32
	register(t, "t_slow", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-time.After(25 * time.Second): // longer than the interval
		case <-ctx.Done():
		}
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		if err := s.Apply([]check.Spec{{Name: "slow", Kind: "t_slow", Interval: 10 * time.Second, Timeout: 40 * time.Second}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		_ = s.Shutdown(context.Background())
		if m := maxRunning.Load(); m != 1 {
			t.Fatalf("up to %d runs of one check at once, want 1", m)
		}
		runs := c.of("slow")
		if n := len(runs); n < 8 {
			t.Fatalf("only %d runs in 5m of a 25s probe", n)
		}
		// Due times stay on the interval's grid whatever a run lasts: a
		// 25s run skips the two ticks it overlaps and the next run starts
		// at the third, 30s after it began.
		for i := 1; i < len(runs); i++ {
			if d := runs[i].CheckedAt.Sub(runs[i-1].CheckedAt); d != 30*time.Second {
				t.Fatalf("run %d started %s after the one before, want 30s (the grid)", i, d)
			}
		}
		if got, want := testutil.ToFloat64(s.skipped), float64(2*(len(runs)-1)); got < want {
			t.Errorf("skipped_runs_total = %v, want at least %v (two ticks per run)", got, want)
		}
	})
}

func TestHungProbeTimesOutWithoutBlockingOthers(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		// Made inside the bubble, so that waiting on it counts as blocked.
		release := make(chan struct{})
		register(t, "t_hung", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
			<-release // ignores its context
			return sp.PassResult("late")
		})
		c := &collector{}
		s := newSched(t, c)
		err := s.Apply([]check.Spec{
			{Name: "hung_db", Kind: "t_hung", Interval: 10 * time.Second, Timeout: 3 * time.Second, Severity: check.Critical},
			{Name: "ok", Kind: "t_ok", Interval: 10 * time.Second, Timeout: 3 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		hung := c.of("hung_db")
		if len(hung) < 5 {
			t.Fatalf("hung check published %d results in 1m, want one per interval", len(hung))
		}
		if r := hung[0]; r.Status != check.Fail || r.Severity != check.Critical || r.Message != "timed out after 3s" {
			t.Fatalf("first hung result %s/%s %q", r.Status, r.Severity, r.Message)
		}
		if d := hung[0].Duration; d < 3*time.Second || d > 3*time.Second+hungGrace {
			t.Fatalf("hung run took %s, want the 3s deadline", d)
		}
		// The hung goroutine is still there: later runs do not pile up on it.
		if r := hung[1]; r.Message != "previous run still hung; timed out after 3s" {
			t.Fatalf("second hung result %q", r.Message)
		}
		if n := len(c.of("ok")); n < 5 {
			t.Fatalf("the healthy check ran %d times next to a hung one, want ≥5", n)
		}
		close(release)
		_ = s.Shutdown(context.Background())
	})
}

func TestFreshnessTimeoutIsUnknown(t *testing.T) {
	sp := check.Spec{Name: "f", Kind: "freshness", Timeout: time.Second}
	r := timedOut(sp, time.Second)
	if r.Status != check.Unknown {
		t.Fatalf("a freshness check that timed out is %s, want UNKNOWN (it could not tell)", r.Status)
	}
}

// TestShutdownCancelsRunningProbe: a run still going when the drain time
// is up is cancelled, and its result (not an observation) is dropped.
func TestShutdownCancelsRunningProbe(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	register(t, "t_block", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		<-ctx.Done()
		cancelled <- struct{}{}
		return sp.FailResult(ctx.Err().Error())
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		_ = s.Apply([]check.Spec{{Name: "b", Kind: "t_block", Interval: time.Minute, Timeout: 50 * time.Second}})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second) // the run has started and blocks
		t0 := time.Now()
		if err := s.Shutdown(context.Background()); !errors.Is(err, ErrDrainTimeout) {
			t.Fatalf("Shutdown = %v, want ErrDrainTimeout", err)
		}
		if d := time.Since(t0); d != 15*time.Second {
			t.Errorf("Shutdown took %s, want the 15s drain", d)
		}
		select {
		case <-cancelled:
		default:
			t.Fatal("the end of the drain did not cancel the running probe's context")
		}
		if n := len(c.of("b")); n != 0 {
			t.Fatalf("a run cut short by shutdown published %d results, want none", n)
		}
	})
}

// TestShutdownDrainsRunningProbe: SIGTERM with a check in flight lets it
// finish and publish its result before Shutdown returns, and starts no new
// run meanwhile; ctx's deadline bounds the drain too.
func TestShutdownDrainsRunningProbe(t *testing.T) {
	var started atomic.Int32
	register(t, "t_slow", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		started.Add(1)
		select {
		case <-time.After(2 * time.Second):
			return sp.PassResult("slow but fine")
		case <-ctx.Done():
			return sp.FailResult(ctx.Err().Error())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		_ = s.Apply([]check.Spec{
			{Name: "slow", Kind: "t_slow", Interval: 3 * time.Second, Timeout: 2500 * time.Millisecond},
			{Name: "slow2", Kind: "t_slow", Interval: 3 * time.Second, Timeout: 2500 * time.Millisecond},
		})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		for started.Load() < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		t0 := time.Now()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v, want nil (the runs finished within the drain)", err)
		}
		if d := time.Since(t0); d <= 0 || d > 2*time.Second {
			t.Errorf("Shutdown took %s, want up to the 2s the runs had left", d)
		}
		for _, name := range []string{"slow", "slow2"} {
			rs := c.of(name)
			if len(rs) != 1 || rs[0].Status != check.Pass || rs[0].Message != "slow but fine" {
				t.Errorf("%s published %+v, want its one drained PASS", name, rs)
			}
		}
		time.Sleep(10 * time.Second)
		if n := started.Load(); n != 2 {
			t.Errorf("%d runs started, want no new one after Shutdown", n)
		}
	})

	// The caller's deadline ends the drain too.
	synctest.Test(t, func(t *testing.T) {
		started.Store(0)
		c := &collector{}
		s := newSched(t, c)
		_ = s.Apply([]check.Spec{{Name: "slow", Kind: "t_slow", Interval: 3 * time.Second, Timeout: 2500 * time.Millisecond}})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		for started.Load() < 1 {
			time.Sleep(10 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, ErrDrainTimeout) {
			t.Fatalf("Shutdown = %v, want ErrDrainTimeout", err)
		}
		if n := len(c.of("slow")); n != 0 {
			t.Fatalf("published %d results of a run cut short, want none", n)
		}
	})
}

func TestApplyReload(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		a := check.Spec{Name: "a", Kind: "t_ok", Interval: 10 * time.Second, Timeout: time.Second}
		b := check.Spec{Name: "b", Kind: "t_ok", Interval: 10 * time.Second, Timeout: time.Second}
		_ = s.Apply([]check.Spec{a, b})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		nb := len(c.of("b"))
		bNew := check.Spec{Name: "b_new", Kind: "t_ok", Interval: 10 * time.Second, Timeout: time.Second}
		if err := s.Apply([]check.Spec{a, bNew}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		_ = s.Shutdown(context.Background())
		if got := len(c.of("b")); got != nb {
			t.Fatalf("removed check b kept running: %d runs, had %d", got, nb)
		}
		if got := len(c.of("b_new")); got < 5 {
			t.Fatalf("added check ran %d times in a minute", got)
		}
		if s.Len() != 2 {
			t.Fatalf("Len = %d", s.Len())
		}
	})
}

// TestEveryCheckStartsWithinTheJitter: checks given before Start get their
// first due time when they are really scheduled, so every one of many runs
// within the jitter, and the lag measured against the due time is small.
func TestEveryCheckStartsWithinTheJitter(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		var maxLag atomic.Int64
		s, err := New(Options{Env: &probes.Env{}, Publish: c.publish, MaxJitter: 2 * time.Second,
			ObserveLag: func(_ string, lag time.Duration) {
				for {
					m := maxLag.Load()
					if int64(lag) <= m || maxLag.CompareAndSwap(m, int64(lag)) {
						return
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		const n = 2000
		specs := make([]check.Spec, n)
		for i := range specs {
			specs[i] = check.Spec{Name: fmt.Sprintf("c%d", i), Kind: "t_ok", Interval: 10 * time.Second, Timeout: time.Second}
		}
		if err := s.Apply(specs); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(maxFirst)
		synctest.Wait()
		c.mu.Lock()
		ran := map[string]bool{}
		for _, r := range c.results {
			ran[r.Check] = true
			if d := r.CheckedAt.Sub(start); d > maxFirst {
				t.Errorf("%s first ran %s after start", r.Check, d)
			}
			// Runs are on the start grid, so that checks share wake-ups.
			if r.CheckedAt.UnixNano()%int64(startGrid) != 0 {
				t.Errorf("%s ran at %s, off the %s grid", r.Check, r.CheckedAt.Format(time.RFC3339Nano), startGrid)
			}
		}
		c.mu.Unlock()
		if len(ran) != n {
			t.Fatalf("%d of %d checks ran within the 2s jitter", len(ran), n)
		}
		time.Sleep(time.Minute)
		_ = s.Shutdown(context.Background())
		if m := time.Duration(maxLag.Load()); m > 0 {
			t.Fatalf("max lag %s in a bubble where time only moves when all wait, want 0", m)
		}
	})
}

// TestApplyAllOrNothing: a reload with one check the scheduler refuses
// changes nothing: the running checks keep their old schedule, and none of
// the reload's other checks starts.
func TestApplyAllOrNothing(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		a := check.Spec{Name: "a", Kind: "t_ok", Interval: 10 * time.Second, Timeout: time.Second}
		if err := s.Apply([]check.Spec{a}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		oldEnv := s.env.Load()
		aFast := a
		aFast.Interval = time.Second
		added := check.Spec{Name: "added", Kind: "t_ok", Interval: time.Second, Timeout: time.Second / 2}
		bad := check.Spec{Name: "bad", Kind: "t_ok", Cron: "0 0 30 2 *", Timeout: time.Second}
		err := s.Reload([]check.Spec{aFast, added, bad}, &probes.Env{})
		if err == nil || !strings.Contains(err.Error(), `check "bad": cron "0 0 30 2 *": never fires`) {
			t.Fatalf("Reload err = %v, want the bad check named", err)
		}
		if s.env.Load() != oldEnv {
			t.Fatal("a refused reload swapped the env")
		}
		time.Sleep(time.Minute)
		_ = s.Shutdown(context.Background())
		if n := len(c.of("added")); n != 0 {
			t.Errorf("a check of the refused reload ran %d times", n)
		}
		// At the old 10s interval a ran about 6 times in a minute, not 60.
		if n := len(c.of("a")); n < 5 || n > 7 {
			t.Errorf("a ran %d times in a minute, want about 6 (its old 10s interval)", n)
		}
		if s.Len() != 1 {
			t.Errorf("Len = %d after the refused reload, want 1", s.Len())
		}
	})
}

// TestCronWithZoneAndSeconds: a CRON_TZ prefix is not one of the six
// fields, so "CRON_TZ=UTC 30 * * * * *" runs at second 30 of each minute.
func TestCronWithZoneAndSeconds(t *testing.T) {
	register(t, "t_ok", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		s := newSched(t, c)
		sp := check.Spec{Name: "z", Kind: "t_ok", Cron: "CRON_TZ=UTC 30 * * * * *", Timeout: time.Second}
		if err := s.Apply([]check.Spec{sp}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		time.Sleep(3 * time.Minute)
		_ = s.Shutdown(context.Background())
		runs := c.of("z")
		if len(runs) != 3 {
			t.Fatalf("ran %d times in 3 minutes, want 3", len(runs))
		}
		for _, r := range runs {
			if r.CheckedAt.Second() != 30 {
				t.Errorf("ran at %s, want second 30", r.CheckedAt.Format(time.RFC3339Nano))
			}
		}
	})
}

// TestGocronLinesAtDebug: gocron's own chatter ("gocron: new scheduler
// created", "gocron: Start()") is logged at debug, not info.
func TestGocronLinesAtDebug(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Options{Env: &probes.Env{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	_ = s.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "gocron") {
		t.Fatalf("no gocron line at all:\n%s", buf.String())
	}
	for l := range strings.Lines(buf.String()) {
		if strings.Contains(l, "gocron") && !strings.Contains(l, "level=DEBUG") {
			t.Errorf("gocron line not at debug: %s", l)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestGateSkipsRunsNotOwned: a check runs only while Gate allows it (asked
// with the check's name); refused due times publish nothing and are
// counted.
func TestGateSkipsRunsNotOwned(t *testing.T) {
	register(t, "t_gate", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		var owned atomic.Bool
		var asked atomic.Value
		s, err := New(Options{Env: &probes.Env{}, Publish: c.publish, MaxJitter: -1,
			Gate: func(parent context.Context, name string) (context.Context, context.CancelFunc, bool) {
				asked.Store(name)
				return parent, func() {}, owned.Load()
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply([]check.Spec{{Name: "g", Kind: "t_gate", Interval: 10 * time.Second, Timeout: 3 * time.Second}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute + time.Second) // 6 or 7 due times, none owned
		synctest.Wait()
		if n := len(c.of("g")); n != 0 {
			t.Fatalf("%d runs while not owned, want 0", n)
		}
		refused := testutil.ToFloat64(s.notOwner)
		if refused < 6 {
			t.Fatalf("not_owner_total = %v after a minute at 10s, want ≥ 6", refused)
		}
		if got := asked.Load(); got != "g" {
			t.Fatalf("Gate asked %q, want \"g\"", got)
		}
		owned.Store(true)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(c.of("g")); n != 6 {
			t.Fatalf("%d runs in a minute at 10s once owned, want 6", n)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// RunNow (cluster mode: a check taken over from a replica that died) runs
// an interval check at once, through the gate, and the schedule goes on as
// before; not before the check's first due time, not a cron check, not an
// unknown name.
func TestRunNow(t *testing.T) {
	register(t, "t_now", func(ctx context.Context, sp check.Spec, _ *probes.Env) check.Result {
		return sp.PassResult("ok")
	})
	synctest.Test(t, func(t *testing.T) {
		c := &collector{}
		var owned atomic.Bool
		s, err := New(Options{Env: &probes.Env{}, Publish: c.publish, MaxJitter: 2 * time.Second,
			Gate: func(parent context.Context, name string) (context.Context, context.CancelFunc, bool) {
				return parent, func() {}, owned.Load()
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply([]check.Spec{
			{Name: "iv", Kind: "t_now", Interval: time.Minute, Timeout: 5 * time.Second},
			{Name: "cr", Kind: "t_now", Cron: "0 0 * * * *", Timeout: 5 * time.Second},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		owned.Store(true)
		if s.RunNow("iv") {
			t.Fatal("RunNow ran a check before its first due time (the start jitter spreads those)")
		}
		time.Sleep(maxFirst) // the first due time: owned, one run
		synctest.Wait()
		first := c.of("iv")
		if len(first) != 1 {
			t.Fatalf("%d runs after the first due time, want 1", len(first))
		}
		time.Sleep(20 * time.Second)
		if !s.RunNow("iv") {
			t.Fatal("RunNow refused an interval check past its first due time")
		}
		synctest.Wait()
		got := c.of("iv")
		if len(got) != 2 || got[1].CheckedAt.Sub(first[0].CheckedAt) < 20*time.Second {
			t.Fatalf("after RunNow: %d runs, want a second one now", len(got))
		}
		if s.RunNow("cr") || s.RunNow("nope") {
			t.Fatal("RunNow ran a cron check or an unknown name")
		}
		// The schedule is unchanged: the next run a minute after the first.
		time.Sleep(time.Until(first[0].CheckedAt.Add(time.Minute)) + time.Second)
		synctest.Wait()
		got = c.of("iv")
		if len(got) != 3 || got[2].CheckedAt.Sub(first[0].CheckedAt) != time.Minute {
			t.Fatalf("%d runs, the third at %v after the first; want the schedule's, a minute after", len(got), got[len(got)-1].CheckedAt.Sub(first[0].CheckedAt))
		}
		// Not owned: RunNow starts the run, the gate skips it.
		owned.Store(false)
		if !s.RunNow("iv") {
			t.Fatal("RunNow refused")
		}
		synctest.Wait()
		if n := len(c.of("iv")); n != 3 {
			t.Fatalf("%d runs, want none more while the gate refuses", n)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
