package probes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// Multi-location link checks (quorum > 1, cluster mode only; issue 14,
// point 5). A link check with quorum: N runs in every location that has a
// live replica, on one replica per location (the cluster's location
// owner, lease "check@location"). Each run stores the location's link
// results (LinkLocations.Put: one row per check and location). The replica
// that owns the check itself (its ordinary lease) then reads the fresh
// results of every live location (LinkLocations.Reports) and publishes
// their combination (CombineLocations): a link FAILs only when at least
// N locations see it fail. The combining replica's own location, when it
// runs there too, is stored first, so its result is always current; the
// others' are their latest run, at most one interval old. Runs on a
// replica that does not own the check only store their location's
// results: the daemon does not publish them.

// LinkLocations is what a link check with quorum > 1 needs from cluster
// mode (Env.Locations). Safe for concurrent use.
type LinkLocations interface {
	// RunsHere reports whether this replica runs check's links for its
	// location now (it holds the check's lease of its location).
	RunsHere(check string) bool
	// Combines reports whether this replica publishes check's result (it
	// holds the check's own lease).
	Combines(check string) bool
	// Put stores this location's link results of check.
	Put(ctx context.Context, check string, links []check.LinkResult) error
	// Reports returns the latest link results of check of every location
	// that has a live replica and reported within maxAge, by location.
	Reports(ctx context.Context, check string, maxAge time.Duration) (map[string][]check.LinkResult, error)
}

// locationMaxAge is how old a location's results may be to count in a
// combination: two intervals (one missed run) plus the run's timeout.
func locationMaxAge(spec check.Spec) time.Duration {
	return 2*max(spec.Interval, time.Second) + spec.RunTimeout()
}

// probeLinkQuorum is ProbeLink for quorum > 1: run and store this
// location's links when this replica runs them, then combine every live
// location's latest results when it publishes the check.
func probeLinkQuorum(ctx context.Context, spec check.Spec, env *Env, quorum int) check.Result {
	if env == nil || env.Locations == nil {
		// One-shot runs (monitor check): the daemon always has locations
		// for a quorum check (config validation, fitsLease).
		r := probeLinkHere(ctx, spec, env)
		r.Message += fmt.Sprintf(" (from this process only: quorum %d applies across the cluster's locations)", quorum)
		return r
	}
	loc := env.Locations
	var local check.Result
	ran := false
	if loc.RunsHere(spec.Name) {
		local, ran = probeLinkHere(ctx, spec, env), true
		if local.Reason != check.ReasonQuery { // the source answered: these are the links
			if err := loc.Put(ctx, spec.Name, local.Links); err != nil {
				return failed(spec.UnknownResult("this location's link results not stored: "+env.redact(err.Error())), check.ReasonQuery)
			}
		}
	}
	if !loc.Combines(spec.Name) {
		if !ran {
			return failed(spec.UnknownResult("not run here: this replica neither runs nor combines this check"), check.ReasonNotRun)
		}
		return local // stored; the daemon does not publish it
	}
	reports, err := loc.Reports(ctx, spec.Name, locationMaxAge(spec))
	if err != nil {
		return failed(spec.UnknownResult("link results of the locations not read: "+env.redact(err.Error())), check.ReasonQuery)
	}
	return CombineLocations(spec, quorum, reports)
}

// CombineLocations folds the link results of several locations (by
// location name) into the check's result for quorum: a link is FAIL when
// at least quorum locations see it fail, and PASS otherwise (a link
// failing in fewer locations says so in its errorMessage); every link
// carries what each location saw in Locations. Links are matched by URL,
// handle and slug, and counted only in the locations that checked them.
// The check's status then follows from its links as for one location
// (fail_ratio), unless fewer than quorum locations reported: then it is
// UNKNOWN, since a failure could not be confirmed.
func CombineLocations(spec check.Spec, quorum int, reports map[string][]check.LinkResult) check.Result {
	locs := make([]string, 0, len(reports))
	for l := range reports {
		locs = append(locs, l)
	}
	slices.Sort(locs)
	type seen struct {
		by    map[string]check.LinkResult
		order int
	}
	links := map[string]*seen{}
	var keys []string
	for _, l := range locs {
		for _, r := range reports[l] {
			k := r.URL + "\x00" + r.Handle + "\x00" + r.Slug
			s := links[k]
			if s == nil {
				s = &seen{by: map[string]check.LinkResult{}, order: len(keys)}
				links[k] = s
				keys = append(keys, k)
			}
			s.by[l] = r
		}
	}
	combined := make([]check.LinkResult, len(keys))
	disagree := 0
	for i, k := range keys {
		s := links[k]
		var failing, passing []string
		for _, l := range locs {
			if r, ok := s.by[l]; ok {
				if r.Status == check.Pass {
					passing = append(passing, l)
				} else {
					failing = append(failing, l)
				}
			}
		}
		var out check.LinkResult
		switch {
		case len(failing) >= quorum:
			out = s.by[failing[0]]
		case len(passing) > 0:
			out = s.by[passing[0]]
		default: // failing in every location that checked it, but too few of them
			out = s.by[failing[0]]
			out.Status, out.Error = check.Pass, ""
		}
		if len(failing) > 0 && len(failing) < quorum {
			disagree++
			out.ErrorMessage = fmt.Sprintf("failing in %d of %d locations (%s), fewer than the quorum %d",
				len(failing), len(failing)+len(passing), strings.Join(failing, ", "), quorum)
		}
		out.Locations = make(map[string]check.LinkLocation, len(s.by))
		for l, r := range s.by {
			out.Locations[l] = check.LinkLocation{Status: r.Status, StatusCode: r.StatusCode, Error: r.Error, ErrorMessage: r.ErrorMessage}
		}
		combined[i] = out
	}
	r := SummarizeLinks(spec, combined)
	where := fmt.Sprintf("%d locations (%s), quorum %d", len(locs), strings.Join(locs, ", "), quorum)
	if len(locs) == 1 {
		where = fmt.Sprintf("1 location (%s), quorum %d", locs[0], quorum)
	}
	r.Message += " in " + where
	if disagree > 0 {
		r.Message += fmt.Sprintf("; %s failing in fewer locations than the quorum", thousands(disagree))
	}
	if len(locs) < quorum {
		u := failed(spec.UnknownResult(fmt.Sprintf("only %s reported, fewer than the quorum %d: failures cannot be confirmed (%s)",
			where[:strings.Index(where, ", quorum")], quorum, r.Message)), check.ReasonNoData)
		if len(locs) == 0 {
			u.Message = fmt.Sprintf("no location reported, fewer than the quorum %d: failures cannot be confirmed", quorum)
		}
		u.ObservedValue, u.ObservedUnit, u.Links = r.ObservedValue, r.ObservedUnit, r.Links
		return u
	}
	return r
}
