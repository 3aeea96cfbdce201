package probes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/monitor-dev/monitor/check"
)

// FileSource is a file whose modification time is the timestamp.
type FileSource struct {
	// Path is the file whose modification time is the newest timestamp
	// (a flag file a job touches); a missing file is UNKNOWN.
	Path string `yaml:"file"`
}

var fileSourceType = sourceType{
	Zero: FileSource{},
	Keys: []string{"file"},
	Want: "file",
	Decode: func(src check.Fields) Source {
		s := FileSource{Path: src.Str("file")}
		if s.Path == "" {
			src.Errorf("file", "missing file%s", src.In())
		}
		return s
	},
}

// Subject implements Source.
func (FileSource) Subject() string { return "file" }

// Newest implements Source.
func (s FileSource) Newest(context.Context, check.Spec, *Env, time.Duration) (time.Time, check.Reason, string) {
	fi, err := os.Stat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, check.ReasonNoData, fmt.Sprintf("file %s does not exist", s.Path)
	}
	if err != nil {
		return time.Time{}, check.ReasonError, "stat: " + err.Error()
	}
	return fi.ModTime(), "", ""
}
