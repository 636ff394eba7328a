// Command pause is the pod sandbox ("pause") image of the repository's test cluster: it holds
// the pod's namespaces and does nothing until the kubelet stops it with SIGTERM or SIGINT.
// As PID 1 of a pod that shares its process namespace it also reaps orphaned children.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() { waitForStop(notify()) }

func notify() <-chan os.Signal {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	return signals
}

// waitForStop returns at the first SIGTERM or SIGINT, reaping children on every SIGCHLD.
func waitForStop(signals <-chan os.Signal) {
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		reapChildren()
	}
}

// reapChildren collects every exited child without blocking, so none stays a zombie.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
