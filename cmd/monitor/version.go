package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildDate may be set at build time with -ldflags "-X main.buildDate=...".
var buildDate = ""

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("version")
	var lf logFlags
	lf.register(fs)
	rest, code, ok := parse(fs, "version", args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "monitor version: unexpected argument %q\n", rest[0])
		return exitConfig
	}
	if !lf.check("version", stderr) {
		return exitConfig
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(version, buildDate, bi))
	return exitOK
}

// versionText is the output of `monitor version`: the version (from
// -ldflags, else the module version of `go install ...@vX`), then the VCS
// revision, commit time and whether the tree had local changes, as the Go
// toolchain stamped them, and the build date when -ldflags set one.
func versionText(v, date string, bi *debug.BuildInfo) string {
	settings := map[string]string{}
	if bi != nil {
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	v = buildVersion(v, bi)
	out := fmt.Sprintf("monitor %s (%s %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (with uncommitted changes)"
		}
		out += "  revision:    " + rev + "\n"
	} else {
		out += "  revision:    unknown (built without VCS information: go run, go test or -buildvcs=false)\n"
	}
	if t := settings["vcs.time"]; t != "" {
		out += "  commit time: " + t + "\n"
	}
	if date != "" {
		out += "  build date:  " + date + "\n"
	}
	return out
}

// buildVersion is the version `monitor version` prints and
// monitor_build_info carries: v (main.version, from -ldflags), else the
// module version stamped by `go install ...@vX`, else "dev".
func buildVersion(v string, bi *debug.BuildInfo) string {
	if v == "dev" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return v
}
