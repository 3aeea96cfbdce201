package store

import (
	"context"
	"time"
)

// The AlertStore methods of Lazy fail with ErrUnavailable while the store is
// not open.

func (l *Lazy) CommitAlerts(ctx context.Context, c AlertCommit) ([]int64, error) {
	if st := l.get(); st != nil {
		return st.CommitAlerts(ctx, c)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) LoadAlerts(ctx context.Context) ([]AlertRow, error) {
	if st := l.get(); st != nil {
		return st.LoadAlerts(ctx)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) PendingDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	if st := l.get(); st != nil {
		return st.PendingDeliveries(ctx, limit)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) RecordAttempts(ctx context.Context, as []Attempt) error {
	if st := l.get(); st != nil {
		return st.RecordAttempts(ctx, as)
	}
	return ErrUnavailable
}

func (l *Lazy) Attempts(ctx context.Context, receiver string, limit int) ([]Attempt, error) {
	if st := l.get(); st != nil {
		return st.Attempts(ctx, receiver, limit)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) DeadLetters(ctx context.Context, limit int) ([]Delivery, error) {
	if st := l.get(); st != nil {
		return st.DeadLetters(ctx, limit)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) Replay(ctx context.Context, id int64, now time.Time) (Delivery, error) {
	if st := l.get(); st != nil {
		return st.Replay(ctx, id, now)
	}
	return Delivery{}, ErrUnavailable
}

func (l *Lazy) PendingCounts(ctx context.Context) (map[string]int, error) {
	if st := l.get(); st != nil {
		return st.PendingCounts(ctx)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) DeadLetterCounts(ctx context.Context) (map[string]int, error) {
	if st := l.get(); st != nil {
		return st.DeadLetterCounts(ctx)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) SaveSilence(ctx context.Context, s Silence) error {
	if st := l.get(); st != nil {
		return st.SaveSilence(ctx, s)
	}
	return ErrUnavailable
}

func (l *Lazy) Silences(ctx context.Context, since time.Time) ([]Silence, error) {
	if st := l.get(); st != nil {
		return st.Silences(ctx, since)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) SaveEscalation(ctx context.Context, e Escalation) error {
	if st := l.get(); st != nil {
		return st.SaveEscalation(ctx, e)
	}
	return ErrUnavailable
}

func (l *Lazy) Escalation(ctx context.Context, id string) (Escalation, error) {
	if st := l.get(); st != nil {
		return st.Escalation(ctx, id)
	}
	return Escalation{}, ErrUnavailable
}

func (l *Lazy) Escalations(ctx context.Context, status string, limit int) ([]Escalation, error) {
	if st := l.get(); st != nil {
		return st.Escalations(ctx, status, limit)
	}
	return nil, ErrUnavailable
}

func (l *Lazy) Audit(ctx context.Context, events []AuditEvent) error {
	if st := l.get(); st != nil {
		return st.Audit(ctx, events)
	}
	return ErrUnavailable
}

func (l *Lazy) AuditEvents(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	if st := l.get(); st != nil {
		return st.AuditEvents(ctx, q)
	}
	return nil, ErrUnavailable
}
