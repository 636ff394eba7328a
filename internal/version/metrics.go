package version

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo is the switchboard_build_info gauge: always 1, labelled with the version, the
// revision and the Go version, so dashboards can tell which build every process runs.
func BuildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "switchboard",
		Name:      "build_info",
		Help:      "Always 1; labelled with the version, source revision and Go version of the running binary.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(Version, Revision, runtime.Version()).Set(1)
	return g
}
