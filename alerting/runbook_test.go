package alerting

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/hub"
	"github.com/monitor-dev/monitor/internal/runbook"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/probes"
	"github.com/monitor-dev/monitor/sla"
	"github.com/monitor-dev/monitor/store"
)

// heartbeatConfig stands for a freshness check's configuration with a
// heartbeat source (probes.FreshnessConfig says so the same way).
type heartbeatConfig struct{}

func (heartbeatConfig) TakesHeartbeats() bool { return true }

// runbooksOf maps each alert id of the notifications to its runbookUrl,
// failing on two different links for one alert.
func runbooksOf(t *testing.T, ns []receiver.Notification) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range ns {
		for _, a := range n.Alerts {
			if prev, ok := out[a.ID]; ok && prev != a.RunbookURL && n.Notice != receiver.NoticeFlapping {
				t.Errorf("%s: runbookUrl %q, then %q", a.ID, prev, a.RunbookURL)
			}
			if n.Notice != receiver.NoticeFlapping {
				out[a.ID] = a.RunbookURL
			}
		}
	}
	return out
}

// TestRunbookURLs: every notification's alerts carry runbookUrl, the
// section of docs/runbooks.md for what fired (one per check kind the
// probes register, a heartbeat, db headroom, UNKNOWN, an SLO burn, an
// escalation), on the default page or alerting.runbook_url; a check's own
// runbook_url replaces it in that check's notifications, its SLO burn
// alerts included.
func TestRunbookURLs(t *testing.T) {
	own := "https://wiki.example.com/teams/billing/api#down"
	for _, base := range []string{"", "https://wiki.example.com/monitor/runbooks"} {
		t.Run("base="+base, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := cfgWith(Route{Receivers: []string{"oncall"}, Unknown: UnknownFire})
				cfg.RunbookURL = base
				want := map[string]string{} // alert id -> anchor
				var specs []check.Spec
				for _, k := range probes.Kinds() {
					sp := spec("k_"+string(k.Name), check.Warn, "")
					sp.Kind = k.Name
					specs = append(specs, sp)
					want["check:"+sp.Name] = runbook.Check(string(k.Name))
				}
				beat := spec("nightly_backup", check.Warn, "")
				beat.Kind, beat.Config = "freshness", heartbeatConfig{}
				headroom := spec("db_conns", check.Warn, "")
				unknown := spec("events_fresh", check.Warn, "")
				unknown.Kind = "freshness"
				billing := spec("billing_api", check.Critical, "")
				billing.Kind, billing.RunbookURL = "http", own
				specs = append(specs, beat, headroom, unknown, billing)
				want["check:nightly_backup"] = runbook.Heartbeat
				want["check:db_conns"] = runbook.DBHeadroom
				want["check:events_fresh"] = runbook.Unknown

				r := newRig(t, cfg, specs, Options{})
				for range 2 {
					for _, sp := range specs {
						res := check.Result{Check: sp.Name, Kind: sp.Kind, Status: check.Fail, Severity: sp.FailSeverity(),
							Message: "failing", CheckedAt: time.Now()}
						switch sp.Name {
						case "db_conns":
							res.Message, res.Reason = "connections 172/197 in use (87%), warn at 80%", check.ReasonHeadroom
						case "events_fresh":
							res.Status, res.Message = check.Unknown, "query returned no rows"
						}
						r.e.Observe(res, hub.Change{Spec: sp})
					}
				}
				burn := sla.BurnAlertsFor(30 * 24 * time.Hour)
				r.e.SLOSignals([]sla.Signal{
					{Check: "k_db", Alert: burn[0], LongBurn: 20, ShortBurn: 30, Firing: true},
					{Check: "billing_api", Alert: burn[0], LongBurn: 20, ShortBurn: 30, Firing: true},
				})
				want["slo:k_db:1h/5m"] = runbook.SLOBurn
				esc, err := r.e.Escalate(context.Background(), store.Escalation{Handle: "acme", Severity: "HIGH", Summary: "Checkout fails"}, "ops")
				if err != nil {
					t.Fatal(err)
				}
				want["escalation:"+esc.ID] = runbook.Escalation
				r.wait(time.Second)

				got := runbooksOf(t, r.st.sent(t))
				for id, anchor := range want {
					u, ok := got[id]
					if !ok {
						t.Errorf("%s: not notified", id)
						continue
					}
					if a := testenv.RunbookURL(t, base, u); a != anchor {
						t.Errorf("%s: runbookUrl %q, want the section #%s", id, u, anchor)
					}
				}
				for _, id := range []string{"check:billing_api", "slo:billing_api:1h/5m"} {
					if got[id] != own {
						t.Errorf("%s: runbookUrl %q, want the check's own %q", id, got[id], own)
					}
				}
			})
		})
	}
}

// TestRunbookURLFlapping: the flapping notice links to the section on
// flapping; the alert's other notifications to its kind's.
func TestRunbookURLFlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := flappingRig(t)
		r.wait(30 * time.Minute)
		r.expect("oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing check:db=firing", "oncall resolved check:db=resolved",
			"oncall firing/flapping check:db=firing", "oncall resolved check:db=resolved")
		for _, n := range r.st.sent(t) {
			want := runbook.Check("db")
			if n.Notice == receiver.NoticeFlapping {
				want = runbook.Flapping
			}
			if a := testenv.RunbookURL(t, "", n.Alerts[0].RunbookURL); a != want {
				t.Errorf("%s: runbookUrl %q, want #%s", summary(n), n.Alerts[0].RunbookURL, want)
			}
		}
	})
}
