package email

import (
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/monitor-dev/monitor/alerting/receiver"
)

// Bounds of a mail: alerts listed (a storm's group says how many more
// there are), the subject's length, and an alert's texts.
const (
	MaxListed  = 500
	maxSubject = 200
	maxSummary = 1000
	maxDetails = 4000
)

// view is what the templates show of a notification.
type view struct {
	Subject  string
	Heading  string // the subject without the check list
	Notice   string // a sentence about a repeat, severity change, flapping or test
	Firing   bool
	Alerts   []alertView
	More     int    // alerts not listed (over MaxListed)
	URL      string // the monitor's alerts page
	Receiver string
}

type alertView struct {
	Status   string // FIRING or RESOLVED
	Firing   bool
	Name     string
	Severity string
	Summary  string
	Details  string
	Since    string // when it started, UTC
	Duration string // "firing for 5m", "lasted 1h02m"
	URL      string
	Runbook  string // the alert's runbook link
}

func newView(n receiver.Notification, now time.Time) view {
	firing := n.Firing()
	v := view{Firing: n.Status == receiver.StatusFiring, URL: n.URL, Receiver: n.Receiver}
	tag := "[RESOLVED]"
	if v.Firing {
		tag = fmt.Sprintf("[FIRING:%d]", firing)
	}
	switch n.Notice {
	case receiver.NoticeRepeat:
		v.Notice = "Still firing: this is a reminder."
	case receiver.NoticeSeverity:
		v.Notice = "The severity changed."
	case receiver.NoticeFlapping:
		tag = "[FLAPPING]"
		v.Notice = "These alerts change state too often: no more notifications until they are stable."
	case receiver.NoticeTest:
		tag = "[TEST] " + tag
		v.Notice = "This is a test notification (monitor alert test): nothing is wrong."
	}
	group := commonLabel(n.Alerts, "component")
	if group == "" {
		group = commonLabel(n.Alerts, "handle")
	}
	v.Heading = tag
	if group != "" {
		v.Heading += " " + group
	}
	v.Subject = headerValue(subject(v.Heading, n.Alerts))

	for i, a := range n.Alerts {
		if i == MaxListed {
			v.More = len(n.Alerts) - MaxListed
			break
		}
		av := alertView{
			Status:   strings.ToUpper(a.Status),
			Firing:   a.Status == receiver.StatusFiring,
			Name:     receiver.AlertName(a),
			Severity: string(a.Severity),
			Summary:  truncate(a.Summary, maxSummary),
			Details:  truncate(a.Details, maxDetails),
			URL:      a.URL,
			Runbook:  a.RunbookURL,
		}
		if av.Summary == "" && a.Result != nil {
			av.Summary = truncate(a.Result.Message, maxSummary)
		}
		if !a.StartsAt.IsZero() {
			av.Since = a.StartsAt.UTC().Format("2006-01-02 15:04:05 UTC")
			switch {
			case a.EndsAt != nil:
				av.Duration = "lasted " + humanDuration(a.EndsAt.Sub(a.StartsAt))
			case av.Firing:
				av.Duration = "firing for " + humanDuration(now.Sub(a.StartsAt))
			}
		}
		v.Alerts = append(v.Alerts, av)
	}
	return v
}

// subject is heading — name_a, name_b, …, bounded to maxSubject runes with
// the number of names left out.
func subject(heading string, alerts []receiver.Alert) string {
	var names []string
	seen := map[string]bool{}
	for _, a := range alerts {
		name := receiver.AlertName(a)
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return heading
	}
	s := heading + " — " + names[0]
	for i, name := range names[1:] {
		more := fmt.Sprintf(" and %d more", len(names)-1-i)
		if len([]rune(s+", "+name)) > maxSubject-len(more) {
			return s + more
		}
		s += ", " + name
	}
	return s
}

// commonLabel is the value of label key that all alerts share, "" when
// they differ or have none.
func commonLabel(alerts []receiver.Alert, key string) string {
	if len(alerts) == 0 {
		return ""
	}
	v := alerts[0].Labels[key]
	for _, a := range alerts[1:] {
		if a.Labels[key] != v {
			return ""
		}
	}
	return v
}

// humanDuration prints d to the second under a minute, to the minute under
// a day, else in days and hours: 45s, 12m, 1h02m, 3d4h.
func humanDuration(d time.Duration) string {
	d = max(d, 0)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%02dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

func (v view) render() (text, html string, err error) {
	var tb, hb strings.Builder
	if err := textTemplate.Execute(&tb, v); err != nil {
		return "", "", fmt.Errorf("text body: %w", err)
	}
	if err := htmlTemplate.Execute(&hb, v); err != nil {
		return "", "", fmt.Errorf("html body: %w", err)
	}
	return tb.String(), hb.String(), nil
}

var textTemplate = texttemplate.Must(texttemplate.New("text").Parse(`{{.Subject}}
{{- with .Notice}}

{{.}}{{end}}
{{range .Alerts}}
{{.Status}}  {{.Name}}{{with .Severity}}  ({{.}}){{end}}
{{- with .Summary}}
  {{.}}{{end}}
{{- with .Details}}
  {{.}}{{end}}
{{- with .Since}}
  since {{.}}{{end}}{{with .Duration}}, {{.}}{{end}}
{{- with .URL}}
  {{.}}{{end}}
{{- with .Runbook}}
  runbook: {{.}}{{end}}
{{end}}
{{- if .More}}
... and {{.More}} more alerts.
{{end}}
{{- with .URL}}
All alerts: {{.}}
{{end}}
-- 
Sent by monitor to the receiver {{.Receiver}}.
`))

var htmlTemplate = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; font-size: 14px; color: #222;">
<h2 style="color: {{if .Firing}}#b00020{{else}}#1b7f3b{{end}};">{{.Heading}}</h2>
{{with .Notice}}<p><strong>{{.}}</strong></p>{{end}}
<table cellpadding="6" style="border-collapse: collapse;">
<tr style="text-align: left; border-bottom: 1px solid #ccc;"><th>Status</th><th>Alert</th><th>Severity</th><th>Since</th><th>Summary</th></tr>
{{range .Alerts}}<tr style="vertical-align: top; border-bottom: 1px solid #eee;">
<td style="color: {{if .Firing}}#b00020{{else}}#1b7f3b{{end}}; font-weight: bold;">{{.Status}}</td>
<td>{{if .URL}}<a href="{{.URL}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td>
<td>{{.Severity}}</td>
<td>{{.Since}}{{with .Duration}}<br>{{.}}{{end}}</td>
<td>{{.Summary}}{{with .Details}}<br><span style="white-space: pre-wrap;">{{.}}</span>{{end}}{{with .Runbook}}<br><a href="{{.}}">Runbook</a>{{end}}</td>
</tr>
{{end}}</table>
{{if .More}}<p>… and {{.More}} more alerts.</p>{{end}}
{{with .URL}}<p><a href="{{.}}">All alerts</a></p>{{end}}
<p style="color: #777; font-size: 12px;">Sent by monitor to the receiver {{.Receiver}}.</p>
</body></html>
`))
