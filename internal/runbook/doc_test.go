package runbook_test

import (
	"testing"

	"github.com/monitor-dev/monitor/internal/runbook"
	"github.com/monitor-dev/monitor/internal/testenv"
	"github.com/monitor-dev/monitor/probes"
)

// TestDocumentHasEverySection: docs/runbooks.md has a section for every
// anchor alerts link to, every check kind the probes register included (a
// new kind without a runbook fails here).
func TestDocumentHasEverySection(t *testing.T) {
	anchors := testenv.RunbookAnchors(t)
	want := []string{runbook.Unknown, runbook.Heartbeat, runbook.DBHeadroom, runbook.SLOBurn,
		runbook.Escalation, runbook.Flapping, runbook.Test, runbook.RuleSLOBurn}
	for _, k := range probes.Kinds() {
		want = append(want, runbook.Check(string(k.Name)))
	}
	for _, a := range want {
		if !anchors[a] {
			t.Errorf("docs/runbooks.md has no section #%s", a)
		}
	}
}
