package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestGCPercent: the daemon collects at 50 % growth unless $GOGC says
// otherwise.
func TestGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "200")
	if _, ok := setGCPercent(); ok || debug.SetGCPercent(100) != 100 {
		t.Fatal("GOGC set in the environment, yet the daemon changed the GC percentage")
	}
	unsetenv(t, "GOGC")
	if p, ok := setGCPercent(); !ok || p != 50 || debug.SetGCPercent(100) != 50 {
		t.Fatalf("GOGC unset: got %d %v, want the default 50 applied", p, ok)
	}
}

// unsetenv removes key for the test (t.Setenv first, so that it is put back).
func unsetenv(t *testing.T, key string) {
	t.Helper()
	t.Setenv(key, "")
	if err := os.Unsetenv(key); err != nil {
		t.Fatal(err)
	}
}
