package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// sharedLibraries returns the absolute paths of the shared libraries and the dynamic loader that
// `ldd` lists for binary, as the loader will look them up in the image. The vDSO has no file.
func sharedLibraries(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	return parseLdd(out)
}

// parseLdd reads ldd's lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" for
// libraries, "/lib64/ld-linux-x86-64.so.2 (0x...)" for the loader, "linux-vdso.so.1 (0x...)".
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd: missing library: %s", line)
		}
		fields := strings.Fields(line)
		candidate := fields[0]
		if len(fields) >= 3 && fields[1] == "=>" {
			candidate = fields[2]
		}
		if filepath.IsAbs(candidate) {
			libs = append(libs, candidate)
		}
	}
	return libs, sc.Err()
}
