package test

import (
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// buildSignaling compiles cmd/signaling once per test binary run.
func buildSignaling(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := filepath.Abs(filepath.Join("..", "bin", "test"))
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "signaling")
		buildOut, buildErr = exec.Command("go", "build", "-o", builtBin, "../cmd/signaling").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build cmd/signaling: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
