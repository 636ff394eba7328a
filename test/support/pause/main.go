// Command pause is the pod sandbox ("pause") image of the repository's test cluster: it holds
// the pod's namespaces and does nothing until the kubelet stops it with SIGTERM or SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
