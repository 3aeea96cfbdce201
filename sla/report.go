package sla

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/monitor-dev/monitor/store"
)

// Row is one check's line of an SLA report.
type Row struct {
	Check     string    `json:"check"`
	Objective float64   `json:"objective"` // percent
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Availability is the SLI as a ratio (0.999 for 99.9 %), as GET /v2/sla
	// gives it; nil when no run had a known outcome ("no data").
	Availability *float64 `json:"availability"`
	// Met is whether Availability reaches the objective; nil with no data.
	Met *bool `json:"met"`
	// BudgetUsed is the share of the error budget spent: 0.25 is a quarter,
	// above 1 overspent.
	BudgetUsed      float64 `json:"budgetUsed"`
	Runs            int64   `json:"runs"`
	Good            int64   `json:"good"`
	Bad             int64   `json:"bad"`
	Unknown         int64   `json:"unknown"`
	Maintenance     int64   `json:"maintenance"`
	Incidents       int     `json:"incidents"`
	LongestOutageS  float64 `json:"longestOutageSeconds"`
	LongestOutageAt *string `json:"longestOutageStart,omitempty"`
}

// Report computes every objective over [from, to).
func Report(ctx context.Context, st store.Store, objs []Objective, from, to time.Time) ([]Row, error) {
	rows := make([]Row, 0, len(objs))
	for _, o := range objs {
		b, err := st.Totals(ctx, o.Check, from, to)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Check, err)
		}
		f := Compute(o, b, to.Sub(from))
		r := Row{Check: o.Check, Objective: o.Target * 100, From: from, To: to,
			Runs: b.Runs, Good: b.Good, Bad: b.Bad, Unknown: b.Unknown, Maintenance: b.Maintenance,
			BudgetUsed: 1 - f.BudgetRemaining}
		if !math.IsNaN(f.Ratio) {
			ratio, met := f.Ratio, f.Ratio >= o.Target
			r.Availability, r.Met = &ratio, &met
		}
		outs, err := st.Outages(ctx, o.Check, from, to)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Check, err)
		}
		r.Incidents = len(outs)
		var longest time.Duration
		for _, out := range outs {
			start, end := out.Start, out.End
			if end.IsZero() || end.After(to) {
				end = to
			}
			if start.Before(from) {
				start = from
			}
			if d := end.Sub(start); d > longest {
				longest = d
				s := out.Start.UTC().Format(time.RFC3339)
				r.LongestOutageAt = &s
			}
		}
		r.LongestOutageS = longest.Seconds()
		rows = append(rows, r)
	}
	return rows, nil
}

// MonthRange parses "2026-10" into [first of the month, first of the next), UTC.
func MonthRange(month string) (time.Time, time.Time, error) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("bad month %q (want YYYY-MM)", month)
	}
	return from, from.AddDate(0, 1, 0), nil
}

// WriteReport writes rows as a table, JSON or CSV. JSON and CSV give the
// availability as a ratio (as GET /v2/sla does), the table in percent; a
// window without a known outcome reads "no data" in the table and leaves
// availability and met empty (null in JSON).
func WriteReport(w io.Writer, format string, rows []Row) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			SLOs []Row `json:"slos"`
		}{rows})
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"check", "objective", "from", "to", "availability", "met", "budget_used",
			"runs", "good", "bad", "unknown", "maintenance", "incidents", "longest_outage_seconds"})
		for _, r := range rows {
			_ = cw.Write([]string{r.Check, fnum(r.Objective), r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339),
				availabilityRatio(r), metWord(r, "true", "false", ""), fnum(r.BudgetUsed),
				itoa64(r.Runs), itoa64(r.Good), itoa64(r.Bad), itoa64(r.Unknown), itoa64(r.Maintenance),
				strconv.Itoa(r.Incidents), fnum(r.LongestOutageS)})
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tOBJECTIVE\tAVAILABILITY\tMET\tBUDGET USED\tINCIDENTS\tLONGEST OUTAGE\tRUNS (good/bad/unknown/maint)")
		for _, r := range rows {
			budget := "-"
			if r.Met != nil {
				budget = strconv.FormatFloat(r.BudgetUsed*100, 'f', 1, 64) + "%"
			}
			fmt.Fprintf(tw, "%s\t%s%%\t%s\t%s\t%s\t%d\t%s\t%d (%d/%d/%d/%d)\n", r.Check, fnum(r.Objective),
				availabilityPercent(r), metWord(r, "yes", "NO", "-"), budget, r.Incidents,
				(time.Duration(r.LongestOutageS) * time.Second).String(), r.Runs, r.Good, r.Bad, r.Unknown, r.Maintenance)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(rows) > 0 {
			_, err := fmt.Fprintf(w, "\nwindow: %s → %s\n", rows[0].From.UTC().Format(time.RFC3339), rows[0].To.UTC().Format(time.RFC3339))
			return err
		}
		return nil
	}
	return fmt.Errorf("bad format %q (want table, json or csv)", format)
}

func availabilityPercent(r Row) string {
	if r.Availability == nil {
		return "no data"
	}
	return strconv.FormatFloat(*r.Availability*100, 'f', 3, 64) + "%"
}

func availabilityRatio(r Row) string {
	if r.Availability == nil {
		return ""
	}
	return fnum(*r.Availability)
}

// metWord says whether the objective was met, or noData without data.
func metWord(r Row, yes, no, noData string) string {
	switch {
	case r.Met == nil:
		return noData
	case *r.Met:
		return yes
	}
	return no
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
