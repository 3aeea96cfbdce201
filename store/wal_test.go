package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentOpensOfANewFile: daemons, `sla report` and tests opening a
// new database file at the same moment. Two connections switching the file
// to WAL at once can deadlock on its locks, and SQLite then answers
// SQLITE_BUSY at once, without waiting the busy timeout: Open failed with
// "database is locked" (TestStore/sqlite/MigrationsConcurrent flaked on
// it). Open now retries the switch while the file is busy.
func TestConcurrentOpensOfANewFile(t *testing.T) {
	dir := t.TempDir()
	for round := range 30 {
		dsn := "sqlite://" + filepath.Join(dir, fmt.Sprintf("h%d.db", round))
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				st, err := Open(context.Background(), dsn, Options{})
				if err == nil {
					err = st.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, open %d: %v", round, i, err)
			}
		}
	}
}
