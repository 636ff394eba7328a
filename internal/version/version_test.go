package version

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRequested(t *testing.T) {
	cases := map[string]struct {
		args []string
		want bool
	}{
		"double dash":         {[]string{"--version"}, true},
		"single dash":         {[]string{"--dev", "-version"}, true},
		"absent":              {[]string{"--dev"}, false},
		"after terminator":    {[]string{"--", "--version"}, false},
		"as a flag's value":   {[]string{"--node-id=--version"}, false},
		"no arguments at all": {nil, false},
	}
	for name, c := range cases {
		if got := Requested(c.args); got != c.want {
			t.Errorf("%s: Requested(%q) = %v, want %v", name, c.args, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	s := String("signaling")
	for _, part := range []string{"signaling", Version, Revision, runtime.Version()} {
		if !strings.Contains(s, part) {
			t.Errorf("String() = %q, missing %q", s, part)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(BuildInfo())
	want := `
# HELP switchboard_build_info Always 1; labelled with the version, source revision and Go version of the running binary.
# TYPE switchboard_build_info gauge
switchboard_build_info{goversion="` + runtime.Version() + `",revision="dev",version="dev"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "switchboard_build_info"); err != nil {
		t.Fatal(err)
	}
}
