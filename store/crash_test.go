package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// The crash test runs this test binary again as a child that writes
// batches and prints "acked N" after each commit, kills it with SIGKILL
// mid-stream, and checks that every acknowledged result survived and the
// store is sound.

const (
	crashEnv    = "MONITOR_STORE_CRASH_DSN"
	crashBatch  = 200
	crashChecks = 10
	crashKillAt = 20 * crashBatch // results acknowledged before the kill
)

// crashRecord is result number i of the child: one of ten checks, one
// second apart, with an outage now and then.
func crashRecord(i int) Record {
	st := check.Pass
	if i%37 < 3 {
		st = check.Fail
	}
	return mk(fmt.Sprintf("crash_%d", i%crashChecks), T0.Add(time.Duration(i)*time.Second), st).val(float64(i))
}

func TestHelperWriterProcess(t *testing.T) {
	dsn := os.Getenv(crashEnv)
	if dsn == "" {
		t.Skip("helper process of TestCrash*")
	}
	st, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	recs := make([]Record, crashBatch)
	for n := 0; ; n += crashBatch {
		for i := range recs {
			recs[i] = crashRecord(n + i)
		}
		if err := st.Write(context.Background(), recs); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Printf("acked %d\n", n+crashBatch)
	}
}

func TestCrashSQLite(t *testing.T) { crashTest(t, sqliteDSN(t)) }

func TestCrashPostgres(t *testing.T) { crashTest(t, postgresDSN(t)) }

func crashTest(t *testing.T, dsn string) {
	// Create the schema first, so the child starts writing at once.
	st := openT(t, dsn, Options{})
	_ = st.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()

	acked, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Errorf("child: %s", line)
		}
		var n int
		if _, err := fmt.Sscanf(line, "acked %d", &n); err == nil {
			acked = max(acked, n)
		}
		if acked >= crashKillAt && !killed {
			// The child is already writing its next batch.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledged results without being killed", acked)
	}
	t.Logf("killed the writer after %d acknowledged results", acked)

	st = openT(t, dsn, Options{})
	// Every acknowledged result is there: results 0..acked-1 are the only
	// ones before T0+acked seconds.
	limit := T0.Add(time.Duration(acked) * time.Second).UnixMilli()
	if n := count(t, st.rdb, st.d.rebind("SELECT COUNT(*) FROM results WHERE ts < ?"), limit); n != int64(acked) {
		t.Errorf("%d of %d acknowledged results survived", n, acked)
	}
	// latest agrees with results.
	if n := count(t, st.rdb, `SELECT COUNT(*) FROM latest l
		WHERE l.ts <> (SELECT MAX(r.ts) FROM results r WHERE r.check_id = l.check_id)`); n != 0 {
		t.Errorf("%d checks whose latest is not their newest result", n)
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM latest"); n != crashChecks {
		t.Errorf("latest has %d checks, want %d", n, crashChecks)
	}
	if n := count(t, st.rdb, "SELECT COUNT(*) FROM outages WHERE end_ms IS NULL"); n > crashChecks {
		t.Errorf("%d open outages", n)
	}
	if st.d == sqliteDialect {
		var res string
		if err := st.rdb.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("integrity_check = %q, %v", res, err)
		}
	}
	// The store still takes writes.
	var total int64
	if err := st.rdb.QueryRow("SELECT COUNT(*) FROM results").Scan(&total); err != nil {
		t.Fatal(err)
	}
	write(t, st, crashRecord(int(total)+1000), crashRecord(int(total)+1001))
	if got, err := st.Latest(context.Background()); err != nil || len(got) != crashChecks {
		t.Errorf("Latest after the crash = %d results, %v", len(got), err)
	}
}
