package store

import (
	"context"
	"errors"
	"time"
)

// Stubs until the alerting tables land (helper: replace this file).
var errNotImplemented = errors.New("alerting store: not implemented yet")

func (s *sqlStore) CommitAlerts(context.Context, AlertCommit) ([]int64, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) LoadAlerts(context.Context) ([]AlertRow, error) { return nil, errNotImplemented }
func (s *sqlStore) PendingDeliveries(context.Context, int) ([]Delivery, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) RecordAttempts(context.Context, []Attempt) error { return errNotImplemented }
func (s *sqlStore) Attempts(context.Context, string, int) ([]Attempt, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) DeadLetters(context.Context, int) ([]Delivery, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) Replay(context.Context, int64, time.Time) (Delivery, error) {
	return Delivery{}, errNotImplemented
}
func (s *sqlStore) PendingCounts(context.Context) (map[string]int, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) SaveSilence(context.Context, Silence) error { return errNotImplemented }
func (s *sqlStore) Silences(context.Context, time.Time) ([]Silence, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) SaveEscalation(context.Context, Escalation) error { return errNotImplemented }
func (s *sqlStore) Escalation(context.Context, string) (Escalation, error) {
	return Escalation{}, errNotImplemented
}
func (s *sqlStore) Escalations(context.Context, string, int) ([]Escalation, error) {
	return nil, errNotImplemented
}
func (s *sqlStore) Audit(context.Context, []AuditEvent) error { return errNotImplemented }
func (s *sqlStore) AuditEvents(context.Context, AuditQuery) ([]AuditEvent, error) {
	return nil, errNotImplemented
}
