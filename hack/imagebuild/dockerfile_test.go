package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The builder's Go version is the one go.mod asks for (major.minor).
func TestDockerfileGoVersion(t *testing.T) {
	root := repoRoot(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var arg, goLine string
	for _, l := range strings.Split(string(dockerfile), "\n") {
		if v, ok := strings.CutPrefix(l, "ARG GO_VERSION="); ok {
			arg = strings.TrimSpace(v)
		}
	}
	for _, l := range strings.Split(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok {
			goLine = strings.TrimSpace(v)
		}
	}
	if arg == "" || goLine == "" || !strings.HasPrefix(goLine+".", arg+".") {
		t.Errorf("Dockerfile ARG GO_VERSION=%q, go.mod go %q: the builder must match go.mod's major.minor", arg, goLine)
	}
}

// dockerStage is what the test reads from one stage of the Dockerfile.
type dockerStage struct {
	From       string
	User       string
	WorkDir    string
	Entrypoint []string
	Copies     map[string]string // destination → source (COPY --from=builder)
	Labels     []string          // keys
	Expose     []string
}

// parseDockerfile reads the instructions this repository's Dockerfile uses, per named stage.
// It joins continuation lines, skips comments and lets a stage built FROM an earlier stage
// start with that stage's settings; it is not a general Dockerfile parser.
func parseDockerfile(t *testing.T, file string) map[string]*dockerStage {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	for _, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	stages := map[string]*dockerStage{}
	var st *dockerStage
	for _, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		args := fields[1:]
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			st = &dockerStage{From: args[0], Copies: map[string]string{}}
			if base, ok := stages[args[0]]; ok {
				// FROM <earlier stage>: the stage starts with what that stage set.
				inherited := *base
				inherited.Copies = maps.Clone(base.Copies)
				inherited.Labels = slices.Clone(base.Labels)
				inherited.Expose = slices.Clone(base.Expose)
				st = &inherited
			}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				stages[args[2]] = st
			}
		case "USER":
			st.User = args[0]
		case "WORKDIR":
			st.WorkDir = args[0]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.Join(args, " ")), &st.Entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT must use the exec (JSON) form: %s", line)
			}
		case "COPY":
			if len(args) == 3 && args[0] == "--from=builder" {
				st.Copies[args[2]] = args[1]
			}
		case "LABEL":
			for _, kv := range args {
				if k, _, ok := strings.Cut(kv, "="); ok {
					st.Labels = append(st.Labels, k)
				}
			}
		case "EXPOSE":
			st.Expose = append(st.Expose, args...)
		}
	}
	return stages
}

// The Dockerfile cannot be built here (no Docker daemon), so this test keeps it equivalent to
// what `make images` builds: same user, working directory, entrypoint, binary path, ports and
// OCI label keys for the signaling and manager images.
func TestDockerfileMatchesImages(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	images := loadImages(t, imagesDir(t))
	for _, n := range []string{"signaling", "manager"} {
		st := stages[n]
		if st == nil {
			t.Fatalf("Dockerfile has no stage %q", n)
		}
		cf, err := images[n].Img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if !strings.HasPrefix(st.From, "gcr.io/distroless/static") || !strings.HasSuffix(st.From, ":nonroot") {
			t.Errorf("%s: runtime base %s, want distroless static (nonroot)", n, st.From)
		}
		if st.User != c.User || st.WorkDir != c.WorkingDir || !reflect.DeepEqual(st.Entrypoint, c.Entrypoint) {
			t.Errorf("%s: Dockerfile user %q workdir %q entrypoint %q; make images: %q %q %q",
				n, st.User, st.WorkDir, st.Entrypoint, c.User, c.WorkingDir, c.Entrypoint)
		}
		if src, ok := st.Copies[c.Entrypoint[0]]; !ok || filepath.Base(src) != n {
			t.Errorf("%s: Dockerfile copies %v, want the %s binary at %s", n, st.Copies, n, c.Entrypoint[0])
		}
		var ports []string
		for p := range c.ExposedPorts {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		sort.Strings(st.Expose)
		if !reflect.DeepEqual(ports, st.Expose) {
			t.Errorf("%s: Dockerfile exposes %v, make images %v", n, st.Expose, ports)
		}
		for _, key := range []string{"source", "version", "revision", "licenses"} {
			full := "org.opencontainers.image." + key
			found := false
			for _, k := range st.Labels {
				found = found || k == full
			}
			if !found || c.Labels[full] == "" {
				t.Errorf("%s: label %s: Dockerfile %v, make images %q", n, full, found, c.Labels[full])
			}
		}
	}
}
