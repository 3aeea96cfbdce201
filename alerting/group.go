package alerting

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/monitor-dev/monitor/alerting/receiver"
	"github.com/monitor-dev/monitor/check"
	"github.com/monitor-dev/monitor/internal/runbook"
	"github.com/monitor-dev/monitor/store"
)

// group is the alerts of one route that share its group_by labels, as
// Alertmanager groups them. A new group waits group_wait before its first
// notification, then notifies its changes at most every group_interval.
// Members are the alerts of the group that are firing, told or have a
// notice queued.
type group struct {
	key       string
	route     int
	receivers []string
	members   map[string]struct{}
	flushed   bool      // it notified once
	last      time.Time // its last notification
	next      time.Time // its next notification; zero when nothing waits
}

// place routes a and updates its group memberships. Callers hold e.mu.
func (e *Engine) place(a *alert, now time.Time) {
	idx := route(e.cfg.Routes, a.Labels, routingSeverity(a))
	relevant := a.Firing || a.Told || a.Outbox != nil
	var keys, recv []string
	for _, i := range idx {
		r := e.cfg.Routes[i]
		for _, name := range r.Receivers {
			if !slices.Contains(recv, name) {
				recv = append(recv, name)
			}
		}
		if !relevant {
			continue
		}
		k, _ := groupKey(e.routeIDs[i], r, a.ID, a.Labels)
		g := e.groups[k]
		if g == nil {
			g = &group{key: k, route: i, receivers: r.Receivers, members: map[string]struct{}{}}
			e.groups[k] = g
		}
		g.members[a.ID] = struct{}{}
		keys = append(keys, k)
	}
	for _, k := range a.groups {
		if !slices.Contains(keys, k) {
			e.leave(a.ID, k)
		}
	}
	a.groups, a.receivers = keys, recv
	_ = now
}

// unplace takes a out of every group.
func (e *Engine) unplace(a *alert) {
	for _, k := range a.groups {
		e.leave(a.ID, k)
	}
	a.groups = nil
}

func (e *Engine) leave(id, key string) {
	g := e.groups[key]
	if g == nil {
		return
	}
	delete(g.members, id)
	if len(g.members) == 0 {
		delete(e.groups, key)
	}
}

// schedule makes g due: after group_wait when it never notified, else
// group_interval after its last notification.
func (e *Engine) schedule(g *group, now time.Time) {
	if g == nil || !g.next.IsZero() {
		return
	}
	r := e.cfg.Routes[g.route]
	if !g.flushed {
		g.next = now.Add(r.GroupWait)
	} else {
		g.next = g.last.Add(r.GroupInterval)
		if g.next.Before(now) {
			g.next = now
		}
	}
	if !g.next.After(now) {
		e.wake()
	}
}

// flush writes g's notification, one delivery per receiver, if any of its
// alerts has a notice queued for it: the alerts with a queued notice and
// every other firing alert of the group that receivers were told of (as
// Alertmanager lists the whole group). Callers hold e.mu.
func (e *Engine) flush(g *group, now time.Time) {
	g.next = time.Time{}
	var listed, queuedHere []*alert
	notice, rank := "", -1
	for id := range g.members {
		a := e.alerts[id]
		if a == nil {
			continue
		}
		q := a.Outbox
		if q != nil && !slices.Contains(q.Flushed, g.key) {
			if q.Status == receiver.StatusFiring && q.Notice == receiver.NoticeNone && len(q.Flushed) == 0 && a.muted() {
				// Muted while it waited (inhibited by a parent that
				// fired meanwhile, silenced): not told after all.
				before := fp(a)
				a.Outbox, a.Told = nil, false
				e.update(a, now, before)
				continue
			}
			queuedHere = append(queuedHere, a)
			listed = append(listed, a)
			if r := noticeRank(q.Notice); r > rank {
				notice, rank = q.Notice, r
			}
			continue
		}
		if a.Firing && a.Told && !a.muted() {
			listed = append(listed, a)
		}
	}
	if len(queuedHere) == 0 {
		e.prune(g)
		return
	}
	sort.Slice(listed, func(i, j int) bool {
		if listed[i].Firing != listed[j].Firing {
			return listed[i].Firing
		}
		return listed[i].ID < listed[j].ID
	})
	status := receiver.StatusResolved
	if listed[0].Firing {
		status = receiver.StatusFiring
	}
	truncated := 0
	if len(listed) > MaxNotificationAlerts {
		truncated = len(listed) - MaxNotificationAlerts
		listed = listed[:MaxNotificationAlerts]
	}
	alerts := make([]receiver.Alert, len(listed))
	ids := make([]string, len(listed))
	for i, a := range listed {
		alerts[i] = e.receiverAlert(a)
		alerts[i].RunbookURL = e.runbookURL(a, notice == receiver.NoticeFlapping && a.Flapping)
		ids[i] = a.ID
	}
	for _, name := range g.receivers {
		n := receiver.Notification{ID: uuid.NewString(), Status: status, Notice: notice, GroupKey: g.key,
			Receiver: name, Alerts: alerts, URL: e.alertsURL(), CreatedAt: now, TruncatedAlerts: truncated}
		body, err := json.Marshal(n)
		if err != nil { // cannot happen: plain data
			e.log.Error("Notification not encoded", "group", g.key, "err", err)
			continue
		}
		if len(e.deliveries) >= maxBacklog {
			e.log.Error("Notifications dropped: the store is unavailable for too long", "dropped", 1)
			e.deliveries = e.deliveries[1:]
		}
		e.deliveries = append(e.deliveries, store.Delivery{NotificationID: n.ID, Receiver: name, AlertIDs: ids,
			Body: body, State: store.DeliveryPending, CreatedAt: now, DueAt: now})
	}
	g.flushed, g.last = true, now
	for _, a := range queuedHere {
		before := fp(a)
		a.Outbox.Flushed = append(a.Outbox.Flushed, g.key)
		done := true
		for _, k := range a.groups {
			if !slices.Contains(a.Outbox.Flushed, k) {
				done = false
			}
		}
		if done {
			a.Outbox = nil
		}
		if fp(a) != before {
			e.dirty[a.ID] = struct{}{}
		}
	}
	e.prune(g)
}

// prune takes out of g the alerts it has nothing more to say about.
func (e *Engine) prune(g *group) {
	for id := range g.members {
		a := e.alerts[id]
		if a == nil || (!a.Firing && !a.Told && a.Outbox == nil) {
			if a != nil {
				a.groups = slices.DeleteFunc(a.groups, func(k string) bool { return k == g.key })
			}
			delete(g.members, id)
		}
	}
	if len(g.members) == 0 && g.next.IsZero() {
		delete(e.groups, g.key)
	}
}

// alertsURL is the monitor's alerts page, "" without a public_url.
func (e *Engine) alertsURL() string {
	if e.opts.PublicURL == "" {
		return ""
	}
	return e.opts.PublicURL + "/v2/alerts"
}

// receiverAlert is a as receivers get it.
func (e *Engine) receiverAlert(a *alert) receiver.Alert {
	ra := receiver.Alert{ID: a.ID, Check: a.Check, Kind: a.Kind, Status: a.status(), Severity: a.Severity,
		Labels: map[string]string{}, Summary: a.Summary, Details: a.Details, StartsAt: a.StartsAt, URL: e.alertsURL()}
	for k, v := range a.Labels {
		ra.Labels[k] = v
	}
	if a.Result != nil {
		r := *a.Result
		ra.Result = &r
	}
	if !a.Firing && !a.EndsAt.IsZero() {
		end := a.EndsAt
		ra.EndsAt = &end
	}
	return ra
}

// runbookURL is the runbook link of a: its check's runbook_url, else the
// section of the runbook page for what it is (flapping: a's notice is the
// flapping one).
func (e *Engine) runbookURL(a *alert, flapping bool) string {
	if a.Check != "" {
		if u := e.specs[a.Check].RunbookURL; u != "" {
			return u
		}
	}
	return runbook.URL(e.cfg.RunbookURL, e.runbookAnchor(a, flapping))
}

// runbookAnchor is the section of docs/runbooks.md about a.
func (e *Engine) runbookAnchor(a *alert, flapping bool) string {
	switch {
	case flapping:
		return runbook.Flapping
	case a.Kind == KindSLOBurn:
		return runbook.SLOBurn
	case a.Kind == KindEscalation:
		return runbook.Escalation
	case a.Result != nil && a.Result.Status == check.Unknown:
		return runbook.Unknown
	case a.Kind == "db" && a.Result != nil && a.Result.Reason == check.ReasonHeadroom:
		return runbook.DBHeadroom
	case a.Kind == "freshness" && e.specs[a.Check].TakesHeartbeats():
		return runbook.Heartbeat
	}
	return runbook.Check(a.Kind)
}
