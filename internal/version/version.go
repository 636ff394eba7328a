// Package version holds the build's version and source revision, set at link time by the
// Makefile (`-X .../internal/version.Version=...`). A plain `go build` leaves both at "dev".
package version

import (
	"fmt"
	"runtime"
)

// Version is the release (the chart's appVersion, e.g. "v0.1.0"); "dev" when not set at link time.
var Version = "dev"

// Revision is the source revision (git commit) the binary was built from; "dev" when not set.
var Revision = "dev"

// String is the one-line answer of --version: program, version, revision and Go version.
func String(program string) string {
	return fmt.Sprintf("%s %s (revision %s, %s)", program, Version, Revision, runtime.Version())
}

// Requested reports whether the command line asks for the version (--version or -version).
// Commands whose flag parsing maps every flag to an environment variable check this before
// parsing, so that no environment variable can turn a server into a version printer.
func Requested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--version" || a == "-version" {
			return true
		}
	}
	return false
}
