package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// readDockerfile returns the Dockerfile's stages, each the list of its
// instructions from its FROM on.
func readDockerfile(t *testing.T) [][]instruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]instruction
	cur := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line = cur + line
		cur = ""
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a final one", len(stages))
	}
	return stages
}

// find returns the args of every instruction cmd of a stage.
func find(stage []instruction, cmd string) []string {
	var out []string
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// execForm reads a JSON-array (exec form) argument; ok is false for the
// shell form, which the final stage cannot run (it has no shell).
func execForm(args string) (argv []string, ok bool) {
	return argv, strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &argv) == nil && len(argv) > 0
}

// words splits a shell command line on blanks, keeping "quoted strings"
// as one word (without the quotes).
func words(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				out = append(out, cur.String())
			}
			cur.Reset()
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// buildFlags is a go build command with what may differ between the README
// and the Dockerfile taken out: the output path and the values of -X.
func buildFlags(line string) []string {
	w := words(line)
	xValue := regexp.MustCompile(`(-X \S+?=)\S*`)
	for i := range w {
		switch {
		case i > 0 && w[i-1] == "-o":
			w[i] = "OUT"
		case i > 0 && w[i-1] == "-ldflags":
			w[i] = xValue.ReplaceAllString(w[i], "${1}")
		}
	}
	return w
}

// TestDockerfile checks the Dockerfile statically (registries cannot be
// reached from this machine, so the image is not built): the build stage
// uses go.mod's Go minor and exactly the README's go build line; the final
// stage is distroless static nonroot, has no shell-form RUN, runs the
// binary as nonroot, and its HEALTHCHECK is the binary's own healthcheck
// command, which reaches a daemon listening where the image's
// MONITOR_LISTEN says.
func TestDockerfile(t *testing.T) {
	stages := readDockerfile(t)
	build, final := stages[0], stages[len(stages)-1]

	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil {
		t.Fatal("no go line in go.mod")
	}
	if from := strings.Fields(build[0].args)[0]; !strings.HasPrefix(from, "golang:"+string(goLine[1])) {
		t.Errorf("build stage FROM %s, want golang:%s (go.mod's Go minor)", from, goLine[1])
	}
	if from := final[0].args; !strings.HasPrefix(from, "gcr.io/distroless/static") || !strings.HasSuffix(from, ":nonroot") {
		t.Errorf("final stage FROM %s, want gcr.io/distroless/static-...:nonroot", from)
	}

	// The build line: the README's, flag for flag.
	var dockerBuild string
	for _, run := range find(build, "RUN") {
		if strings.Contains(run, "go build") {
			dockerBuild = run
		}
	}
	var readmeBuild string
	for _, c := range readmeCommands(t) {
		if strings.HasPrefix(c, "CGO_ENABLED=0 go build") {
			readmeBuild = c
		}
	}
	if dockerBuild == "" || readmeBuild == "" {
		t.Fatalf("go build line: Dockerfile %q, README %q; want one in each", dockerBuild, readmeBuild)
	}
	df, rf := buildFlags(dockerBuild), buildFlags(readmeBuild)
	if !slices.Equal(df, rf) {
		t.Errorf("the Dockerfile builds with\n  %q\nthe README with\n  %q\nwant the same flags", df, rf)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/monitor"} {
		if !slices.Contains(df, want) {
			t.Errorf("Dockerfile go build lacks %s: %q", want, df)
		}
	}
	// Every -X names a variable of package main (a typo links silently).
	var src strings.Builder
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, _ := os.ReadFile(f)
			src.Write(b)
		}
	}
	xs := regexp.MustCompile(`-X main\.(\w+)=`).FindAllStringSubmatch(dockerBuild, -1)
	if len(xs) < 2 || !strings.Contains(dockerBuild, "-s -w") {
		t.Errorf("Dockerfile go build sets %d variables, want -s -w with main.version and main.buildDate: %s", len(xs), dockerBuild)
	}
	for _, x := range xs {
		if !regexp.MustCompile(`(?m)^var ` + x[1] + ` `).MatchString(src.String()) {
			t.Errorf("-X main.%s: package main has no such variable", x[1])
		}
	}

	// The final stage: no shell, nonroot, the binary as entry point.
	for _, run := range find(final, "RUN") {
		if _, ok := execForm(run); !ok {
			t.Errorf("final stage RUN %s: shell form, but distroless has no shell", run)
		}
	}
	if users := find(final, "USER"); len(users) == 0 || !slices.Contains([]string{"nonroot:nonroot", "nonroot", "65532:65532", "65532"}, users[len(users)-1]) {
		t.Errorf("final stage USER %q, want nonroot:nonroot", users)
	}
	entry, ok := execForm(strings.Join(find(final, "ENTRYPOINT"), ""))
	if !ok || len(entry) != 1 {
		t.Fatalf("ENTRYPOINT %q, want the binary alone, in exec form", find(final, "ENTRYPOINT"))
	}
	bin := entry[0]
	copied := false
	for _, c := range find(final, "COPY") {
		f := strings.Fields(c)
		copied = copied || f[len(f)-1] == bin
	}
	if !copied {
		t.Errorf("the final stage does not COPY the binary to %s", bin)
	}
	if cmd, ok := execForm(strings.Join(find(final, "CMD"), "")); !ok || !slices.Equal(cmd, []string{"run", "--config", "/etc/monitor/config.yaml"}) {
		t.Errorf("CMD %q, want [\"run\", \"--config\", \"/etc/monitor/config.yaml\"]", find(final, "CMD"))
	}
	if !slices.Contains(find(final, "EXPOSE"), "8080") || len(find(final, "VOLUME")) == 0 {
		t.Errorf("final stage EXPOSE %q VOLUME %q, want 8080 and the config and data volumes", find(final, "EXPOSE"), find(final, "VOLUME"))
	}
	listen := regexp.MustCompile(`MONITOR_LISTEN=(\S+)`).FindStringSubmatch(strings.Join(find(final, "ENV"), " "))
	if listen == nil || !strings.HasPrefix(listen[1], "0.0.0.0:") {
		t.Fatalf("final stage ENV %q, want MONITOR_LISTEN=0.0.0.0:PORT (the shipped config reads it)", find(final, "ENV"))
	}

	// HEALTHCHECK: the binary itself, in exec form.
	hcs := find(final, "HEALTHCHECK")
	if len(hcs) != 1 {
		t.Fatalf("final stage has %d HEALTHCHECK, want 1", len(hcs))
	}
	_, after, _ := strings.Cut(hcs[0], "CMD ")
	hc, ok := execForm(strings.TrimSpace(after))
	if !ok || hc[0] != bin || len(hc) < 2 || hc[1] != "healthcheck" {
		t.Fatalf("HEALTHCHECK %s, want CMD [%q, \"healthcheck\", ...] (exec form: no shell)", hcs[0], bin)
	}
	// Run it as the container would: with the image's MONITOR_LISTEN
	// (0.0.0.0:PORT) and a daemon listening on that port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		http.NotFound(w, r)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	t.Setenv("MONITOR_LISTEN", strings.Split(listen[1], ":")[0]+":"+port)
	if code, stdout, stderr := runMain(t, hc[1:]...); code != 0 {
		t.Errorf("the HEALTHCHECK %q against a daemon on port %s = %d %q %q, want 0", hc, port, code, stdout, stderr)
	}
	srv.Close()
	if code, stdout, _ := runMain(t, hc[1:]...); code != 1 {
		t.Errorf("the HEALTHCHECK %q with no daemon = %d %q, want 1", hc, code, stdout)
	}
}

// TestDockerignore: the build context leaves out the repository's
// history, local data and build leftovers.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{".git", "data/", "public/", "bench/results/", "**/*.test"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
