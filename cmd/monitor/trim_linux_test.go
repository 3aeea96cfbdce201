package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKiB is the process's resident file-backed memory (RssFile).
func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// The start-up trim finds the executable's read-only mappings and the
// kernel gives their pages back: the process's resident file pages drop
// (what `ps` and VmRSS show of the binary).
func TestPageOutBinary(t *testing.T) {
	before := rssFileKiB(t)
	n, err := pageOutBinary()
	after := rssFileKiB(t)
	if err != nil {
		t.Fatalf("pageOutBinary: %v (advised %d bytes)", err, n)
	}
	exe, _ := os.Stat("/proc/self/exe")
	if n <= 0 || (exe != nil && int64(n) > exe.Size()*2) {
		t.Fatalf("advised %d bytes of a %d-byte executable", n, exe.Size())
	}
	t.Logf("RssFile %d KiB → %d KiB; %d bytes advised", before, after, n)
	if after > before/2 {
		t.Fatalf("RssFile %d KiB → %d KiB after the trim: the binary's pages stayed resident", before, after)
	}
}
