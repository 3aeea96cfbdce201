package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitor-dev/monitor/config"
)

// TestLoadBoundsFileSize: a file named by mistake (a log, a database, a
// device) is refused after MaxFileSize bytes, not read whole into memory.
func TestLoadBoundsFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	big := "checks: []\n" + strings.Repeat("#"+strings.Repeat("x", 1023)+"\n", config.MaxFileSize/1024)
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("Load(a %d-byte file) = %v; want \"larger than 16 MiB\"", len(big), err)
	}
	if _, err := config.Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("Load(/dev/zero) = %v; want \"larger than 16 MiB\"", err)
	}
}
