package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/scheduler/cronspec"
)

// Options configure a Scheduler.
type Options struct {
	Env     *probes.Env
	Publish func(check.Result) // called once per finished run, from the job's goroutine
	Logger  *slog.Logger
	// Registerer, if set, receives the scheduler's own metrics.
	Registerer prometheus.Registerer
	// MaxJitter bounds the random delay before a check's first run; the
	// delay is also at most the check's interval. Default 5s; negative
	// means none.
	MaxJitter time.Duration
	// ObserveLag, if set, gets every run's schedule lag: the delay between
	// its due time and its start (interval checks only).
	ObserveLag func(check string, lag time.Duration)
	// StopTimeout bounds how long Shutdown waits for running checks (the
	// drain). Default 15s.
	StopTimeout time.Duration
	// Gate, if set, is asked right before each run, with the run's
	// parent context and the check's name. ok false skips the run, with
	// no result (counted in monitor_scheduler_not_owner_total). Else the
	// run goes on under ctx, which Gate derives from parent and may
	// cancel while the run goes on (cluster mode: this replica's lease on
	// the check lapsed, cluster.Node.Bind): the run is then abandoned,
	// its result not published (another replica may own the check now),
	// and counted in monitor_scheduler_abandoned_runs_total. done is
	// called when the run has ended. Nil runs every check.
	Gate func(parent context.Context, name string) (ctx context.Context, done context.CancelFunc, ok bool)
}

// Scheduler runs checks on their schedules.
type Scheduler struct {
	opts  Options
	env   atomic.Pointer[probes.Env]
	sched gocron.Scheduler
	lag   prometheus.Histogram
	runs  prometheus.Counter

	missed  prometheus.Counter
	skipped prometheus.Counter
	// notOwner counts the runs Gate refused.
	notOwner prometheus.Counter
	// abandoned counts the runs whose Gate context ended while they ran.
	abandoned prometheus.Counter

	mu      sync.Mutex
	jobs    map[string]*job
	want    []check.Spec // what Apply asked for
	started bool

	// Runs in flight, for the drain. A run's context derives from runCtx,
	// not from gocron's job context, which gocron cancels the moment it
	// shuts down: hardStop cancels runCtx when the drain time is up.
	draining atomic.Bool
	active   atomic.Int64  // runs in flight (and ticks about to see draining)
	idle     chan struct{} // signalled when active drops to 0 while draining
	runCtx   context.Context
	hardStop context.CancelFunc
}

// job is one scheduled check. An interval check runs on a runtime timer
// of its own (time.AfterFunc: no goroutine while it waits, ~100 bytes); a
// cron check is a gocron job.
type job struct {
	id    uuid.UUID // the gocron job of a cron check
	spec  check.Spec
	start time.Time // first due time of an interval job
	// mu guards timer and stopped: a tick re-arms the timer unless the job
	// was removed meanwhile.
	mu      sync.Mutex
	timer   *time.Timer // an interval job's next due time
	stopped bool
	// ticks counts the due times passed, so the next one is
	// start + ticks×interval: the schedule lag is measured against it.
	ticks   atomic.Int64
	running atomic.Bool // a run is in progress: a tick that comes meanwhile is skipped
	busy    atomic.Bool // a probe goroutine is still running (it may have hung)
}

// New builds a Scheduler; call Apply to give it checks and Start to run them.
func New(opts Options) (*Scheduler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Publish == nil {
		opts.Publish = func(check.Result) {}
	}
	if opts.MaxJitter == 0 {
		opts.MaxJitter = 5 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 15 * time.Second
	}
	sched, err := gocron.NewScheduler(
		gocron.WithLogger(gocronLogger{opts.Logger}),
		gocron.WithStopTimeout(opts.StopTimeout),
		gocron.WithLocation(time.UTC),
	)
	if err != nil {
		return nil, fmt.Errorf("new scheduler: %w", err)
	}
	s := &Scheduler{
		opts:  opts,
		sched: sched,
		jobs:  map[string]*job{},
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "monitor", Subsystem: "scheduler", Name: "lag_seconds",
			Help:    "Delay between a check's due time and the start of its run.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		runs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "monitor", Subsystem: "scheduler", Name: "runs_started_total",
			Help: "Check runs started by the scheduler.",
		}),
	}
	s.missed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "monitor", Subsystem: "scheduler", Name: "missed_runs_total",
		Help: "Due times that passed without a run because the scheduler fell a whole interval behind.",
	})
	s.skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "monitor", Subsystem: "scheduler", Name: "skipped_runs_total",
		Help: "Due times skipped because the check's previous run was still going.",
	})
	s.notOwner = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "monitor", Subsystem: "scheduler", Name: "not_owner_total",
		Help: "Due times skipped because another replica owns the check (cluster mode), or this one cannot tell.",
	})
	s.abandoned = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "monitor", Subsystem: "scheduler", Name: "abandoned_runs_total",
		Help: "Runs cut short because this replica lost the check's lease while they ran (cluster mode); their results were dropped.",
	})
	s.runCtx, s.hardStop = context.WithCancel(context.Background())
	s.idle = make(chan struct{}, 1)
	s.env.Store(opts.Env)
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.lag, s.runs, s.missed, s.skipped, s.notOwner, s.abandoned)
	}
	return s, nil
}

// Apply makes the scheduled checks equal to specs: new checks are added,
// removed ones stop, changed ones restart with their new definition, and
// unchanged ones keep their schedule. It is how a reload takes effect.
// Before Start it only records the checks: their first due times are drawn
// when they are really scheduled, so none is already past by then.
//
// Apply is all or nothing: when any check cannot be scheduled, the checks
// scheduled before keep running unchanged and the error names every check
// that failed.
func (s *Scheduler) Apply(specs []check.Spec) error {
	return s.Reload(specs, nil)
}

// Reload is Apply that also replaces what probes share (env, unless nil)
// when, and only when, every check could be scheduled: runs of the new
// schedule never see the old env, and a refused reload leaves both as
// they were.
func (s *Scheduler) Reload(specs []check.Spec, env *probes.Env) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.want = specs
		if env != nil {
			s.env.Store(env)
		}
		return nil
	}
	prevWant := s.want
	s.want = specs
	if err := s.applyLocked(env); err != nil {
		s.want = prevWant
		return err
	}
	return nil
}

// applyLocked brings the jobs to s.want in two steps: every new or changed
// check is added first, and only when all of them were added are the old
// jobs removed (and env swapped in). A failure removes what it added.
func (s *Scheduler) applyLocked(env *probes.Env) error {
	want := make(map[string]check.Spec, len(s.want))
	for _, sp := range s.want {
		want[sp.Name] = sp
	}
	added := map[string]*job{}
	var errs []error
	for _, sp := range s.want {
		if j, ok := s.jobs[sp.Name]; ok && reflect.DeepEqual(sp, j.spec) {
			continue
		}
		if _, dup := added[sp.Name]; dup {
			continue
		}
		j, err := s.add(sp)
		if err != nil {
			errs = append(errs, fmt.Errorf("check %q: %w", sp.Name, err))
			continue
		}
		added[sp.Name] = j
	}
	if len(errs) > 0 {
		for name, j := range added {
			s.remove(name, j)
		}
		return fmt.Errorf("schedule: %w", errors.Join(errs...))
	}
	if env != nil {
		s.env.Store(env)
	}
	for name, j := range s.jobs {
		if sp, ok := want[name]; ok && added[name] == nil && reflect.DeepEqual(sp, j.spec) {
			continue
		}
		s.remove(name, j)
		delete(s.jobs, name)
	}
	for name, j := range added {
		s.jobs[name] = j
	}
	return nil
}

// add schedules one check. Runs never overlap: a tick that comes while the
// previous run goes on is skipped (runJob), which costs far less memory per
// check than gocron's singleton mode (a queue and a goroutine per job).
//
// Interval checks are not gocron jobs: each waits on a runtime timer
// (tick), no goroutine, ~1 KiB less per check than a gocron duration job
// and fewer allocations per run (bench/scale). Cron checks stay with
// gocron, which parses and follows their expressions.
func (s *Scheduler) add(sp check.Spec) (*job, error) {
	j := &job{spec: sp}
	if sp.Cron != "" {
		task := gocron.NewTask(func() { s.runJob(j) })
		// The same parse as the config's: it also keeps robfig/cron from
		// panicking on a time zone with no schedule after it.
		if _, err := cronspec.Parse(sp.Cron, time.UTC, time.Now()); err != nil {
			return nil, fmt.Errorf("cron %q: %w", sp.Cron, err)
		}
		// Six fields: the first is seconds (a CRON_TZ= prefix is no field).
		def := gocron.CronJob(sp.Cron, cronspec.WithSeconds(sp.Cron))
		gj, err := s.sched.NewJob(def, task, gocron.WithName(sp.Name))
		if err != nil {
			return nil, err
		}
		j.id = gj.ID()
		return j, nil
	}
	if sp.Interval <= 0 {
		return nil, fmt.Errorf("interval %s: must be > 0", sp.Interval)
	}
	j.start = time.Now().Add(s.jitter(sp.Interval))
	j.mu.Lock() // the first tick may come before timer is set
	j.timer = time.AfterFunc(time.Until(j.start), func() { s.tick(j) })
	j.mu.Unlock()
	return j, nil
}

// tick is an interval job's due time: it arms the timer for the next one,
// start + ticks×interval (a run that outlasts its interval does not delay
// it; that tick is skipped by runJob), then runs the check.
func (s *Scheduler) tick(j *job) {
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return
	}
	now := time.Now()
	s.observeLag(j, now)
	next := j.start.Add(time.Duration(j.ticks.Load()) * j.spec.Interval)
	j.timer.Reset(next.Sub(now))
	j.mu.Unlock()
	s.runJob(j)
}

// remove stops a job: no new run starts (one in progress ends on its own,
// and the hub drops its result when the check is gone).
func (s *Scheduler) remove(name string, j *job) {
	if j.timer == nil {
		if err := s.sched.RemoveJob(j.id); err != nil {
			s.opts.Logger.Warn("remove job", "check", name, "err", err)
		}
		return
	}
	j.mu.Lock()
	j.stopped = true
	j.timer.Stop()
	j.mu.Unlock()
}

// jitter spreads first runs so that many checks do not start at once.
func (s *Scheduler) jitter(interval time.Duration) time.Duration {
	const least = 10 * time.Millisecond
	d := least
	if limit := s.opts.MaxJitter; limit > 0 {
		if interval > 0 && interval < limit {
			limit = interval
		}
		d += rand.N(limit)
	}
	// Round the first due time up to the grid: later runs stay on it, so
	// checks wake the process together (a few dozen per wake-up at
	// thousands of checks) instead of one at a time, which costs 2.6× less
	// CPU per run (bench/links).
	t := time.Now().Add(d)
	return d + t.Truncate(startGrid).Add(startGrid).Sub(t)
}

// startGrid is the grid first due times are rounded up to.
const startGrid = 100 * time.Millisecond

func (s *Scheduler) runJob(j *job) {
	if !j.running.CompareAndSwap(false, true) {
		s.skipped.Inc()
		return
	}
	defer j.running.Store(false)
	// Counted before draining is read: a drain that begins after this read
	// sees the run in active (sequentially consistent atomics).
	s.active.Add(1)
	defer s.runEnded()
	if s.draining.Load() {
		return // shutting down: no new runs
	}
	// Runs derive from runCtx, not from gocron's job context, which gocron
	// cancels the moment it shuts down; a removed job's last run ends within
	// its own timeout and its result is dropped by the hub.
	ctx := s.runCtx
	if s.opts.Gate != nil {
		gctx, done, ok := s.opts.Gate(s.runCtx, j.spec.Name)
		if !ok {
			s.notOwner.Inc()
			return
		}
		defer done()
		ctx = gctx
	}

	s.runs.Inc()
	r, ok := run(ctx, j.spec, s.env.Load(), &j.busy)
	if !ok || ctx.Err() != nil {
		if s.runCtx.Err() == nil { // the gate's context ended: not the drain's stop
			s.abandoned.Inc()
			s.opts.Logger.Debug("run abandoned: its result dropped", "check", j.spec.Name, "cause", context.Cause(ctx))
		}
		return
	}
	s.opts.Publish(r)
}

// RunNow starts one run of the interval check name at once, outside its
// schedule (which goes on as before), and reports whether it did: not for
// a cron check, nor before the check's first due time (the schedule's
// start jitter spreads those), nor while shutting down. The run goes
// through Gate like any other and is skipped if one is in progress.
// Cluster mode calls it for a check this replica has just taken over
// from one that died, when the check's latest result is older than its
// interval, so that the check does not also wait for its next due time.
func (s *Scheduler) RunNow(name string) bool {
	s.mu.Lock()
	j := s.jobs[name]
	s.mu.Unlock()
	if j == nil || s.draining.Load() {
		return false
	}
	j.mu.Lock()
	ok := j.timer != nil && !j.stopped && j.ticks.Load() > 0
	j.mu.Unlock()
	if ok {
		go s.runJob(j)
	}
	return ok
}

// observeLag measures how late this tick started against its due time,
// start + ticks×interval. When the scheduler fell a whole interval behind,
// the due times it skipped are counted as missed.
func (s *Scheduler) observeLag(j *job, now time.Time) {
	n := j.ticks.Add(1) - 1
	lag := now.Sub(j.start.Add(time.Duration(n) * j.spec.Interval))
	if lag >= j.spec.Interval {
		missed := int64(lag / j.spec.Interval)
		j.ticks.Add(missed)
		s.missed.Add(float64(missed))
		lag -= time.Duration(missed) * j.spec.Interval
	}
	lag = max(lag, 0)
	s.lag.Observe(lag.Seconds())
	if s.opts.ObserveLag != nil {
		s.opts.ObserveLag(j.spec.Name, lag)
	}
}

// SetEnv replaces what probes share (after a reload changed the databases);
// runs that already started keep the old one.
func (s *Scheduler) SetEnv(env *probes.Env) { s.env.Store(env) }

// Start begins running the checks given to Apply; it does not block.
func (s *Scheduler) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sched.Start()
	s.started = true
	return s.applyLocked(nil)
}

func (s *Scheduler) runEnded() {
	if s.active.Add(-1) == 0 && s.draining.Load() {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// ErrDrainTimeout reports runs still going when the drain time was up; they
// were cancelled and their results dropped.
var ErrDrainTimeout = errors.New("checks still running when the drain time was up")

// Shutdown drains: it starts no new run, lets the running ones finish and
// publish their results, up to the stop timeout or ctx's deadline,
// whichever comes first, then cancels what still runs (those results are
// not observations and are dropped) and stops the scheduler.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	dctx, cancel := context.WithTimeout(ctx, s.opts.StopTimeout)
	defer cancel()
	var err error
	if !s.waitIdle(dctx) {
		err = ErrDrainTimeout
		s.hardStop()
		// A cancelled run returns within its hung-probe grace.
		gctx, gcancel := context.WithTimeout(context.Background(), time.Second)
		s.waitIdle(gctx)
		gcancel()
	}
	s.hardStop()
	s.mu.Lock()
	for _, j := range s.jobs {
		if j.timer != nil {
			j.mu.Lock()
			j.stopped = true
			j.timer.Stop()
			j.mu.Unlock()
		}
	}
	s.mu.Unlock()
	// No run is left, so gocron stops at once.
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return errors.Join(err, s.sched.ShutdownWithContext(sctx))
}

// Len is the number of scheduled checks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// waitIdle waits until no run is in flight; false when ctx ended first.
func (s *Scheduler) waitIdle(ctx context.Context) bool {
	for s.active.Load() > 0 {
		select {
		case <-s.idle:
		case <-ctx.Done():
			return s.active.Load() == 0
		}
	}
	return true
}

// gocronLogger passes gocron's own lines ("gocron: new scheduler
// created", "gocron: Start()") at debug level: they say nothing an
// operator acts on. Its warnings and errors keep their level.
type gocronLogger struct{ l *slog.Logger }

func (g gocronLogger) Debug(msg string, args ...any) { g.l.Debug(msg, args...) }
func (g gocronLogger) Info(msg string, args ...any)  { g.l.Debug(msg, args...) }
func (g gocronLogger) Warn(msg string, args ...any)  { g.l.Warn(msg, args...) }
func (g gocronLogger) Error(msg string, args ...any) { g.l.Error(msg, args...) }
