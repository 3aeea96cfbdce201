package store

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatsSurviveReopen: a heartbeat written is read back after the
// store is closed and opened again; an older one does not replace it.
func TestHeartbeatsSurviveReopen(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := e.dsn(t)
			st := openT(t, dsn, Options{})
			if err := st.Beat(ctx, "nightly_export", at(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := st.Beat(ctx, "nightly_export", at(time.Minute)); err != nil { // late, older
				t.Fatal(err)
			}
			if err := st.Beat(ctx, "backup", at(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			_ = st.Close()

			st = openT(t, dsn, Options{})
			got, err := st.Beats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || !got["nightly_export"].Equal(at(time.Hour)) || !got["backup"].Equal(at(2*time.Hour)) {
				t.Errorf("beats after reopen = %v, want nightly_export at %v and backup at %v", got, at(time.Hour), at(2*time.Hour))
			}
			if err := st.Beat(ctx, "", at(0)); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("Beat without a name: %v, want ErrInvalidRecord", err)
			}
		})
	}
}

// TestOwnerLock: a second Open with an owner on the same store fails with
// ErrLocked naming the first one's pid and address; readers (no owner)
// still open it; once the first is closed, the second gets it.
func TestOwnerLock(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := e.dsn(t)
			first := openT(t, dsn, Options{Owner: &Owner{Listen: "127.0.0.1:18080"}})

			_, err := Open(ctx, dsn, Options{Owner: &Owner{Listen: "127.0.0.1:18081"}})
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open with an owner: %v, want ErrLocked", err)
			}
			for _, want := range []string{"pid " + strconv.Itoa(os.Getpid()), "listening on 127.0.0.1:18080", "another monitor"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}

			reader := openT(t, dsn, Options{}) // sla report: no lock
			if _, err := reader.Latest(ctx); err != nil {
				t.Errorf("a reader beside the daemon: %v", err)
			}

			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			second, err := Open(ctx, dsn, Options{Owner: &Owner{Listen: "127.0.0.1:18081"}})
			if err != nil {
				t.Fatalf("Open after the first closed: %v", err)
			}
			_ = second.Close()
		})
	}
}
