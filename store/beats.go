package store

import (
	"context"
	"fmt"
	"time"
)

// Beat records a heartbeat; see Store.
func (s *sqlStore) Beat(ctx context.Context, check string, at time.Time) error {
	if check == "" || at.IsZero() {
		return fmt.Errorf("%w: heartbeat without a check or a time", ErrInvalidRecord)
	}
	_, err := s.wdb.ExecContext(ctx, s.d.rebind(`INSERT INTO heartbeats (name, ts) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET ts = excluded.ts WHERE excluded.ts > heartbeats.ts`),
		cleanText(check), at.UnixMilli())
	if err != nil {
		return fmt.Errorf("store heartbeat: %w", err)
	}
	return nil
}

// Beats returns every check's last heartbeat; see Store.
func (s *sqlStore) Beats(ctx context.Context) (map[string]time.Time, error) {
	rs, err := s.rdb.QueryContext(ctx, "SELECT name, ts FROM heartbeats")
	if err != nil {
		return nil, fmt.Errorf("store heartbeats: %w", err)
	}
	defer rs.Close()
	out := map[string]time.Time{}
	for rs.Next() {
		var name string
		var ts int64
		if err := rs.Scan(&name, &ts); err != nil {
			return nil, fmt.Errorf("store heartbeats: %w", err)
		}
		out[name] = time.UnixMilli(ts).UTC()
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store heartbeats: %w", err)
	}
	return out, nil
}
