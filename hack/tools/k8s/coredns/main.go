// Command coredns is the cluster DNS of the one-node test cluster (hack/cluster/): CoreDNS from
// the Go module proxy with only the plugins that cluster needs. It answers for cluster.local from
// the API server and nothing else: without the forward plugin no query ever leaves the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives is the plugin order of this build (a subset of CoreDNS's own order).
var directives = []string{"bind", "ready", "health", "errors", "cache", "kubernetes"}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
