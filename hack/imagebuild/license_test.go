package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Go files where the kubebuilder scaffold puts license headers (api/, controllers/ and the
// manager's cmd/) start with hack/boilerplate.go.txt, after an optional //go:build line.
// `make license-headers` adds it to new files (there and in the rest of cmd/); controller-gen
// adds it to generated code (headerFile).
func TestLicenseHeaders(t *testing.T) {
	root := repoRoot(t)
	boilerplate, err := os.ReadFile(filepath.Join(root, "hack/boilerplate.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(boilerplate), "Licensed under the Apache License, Version 2.0") {
		t.Fatal("hack/boilerplate.go.txt is not the Apache-2.0 header")
	}
	checked := 0
	for _, dir := range []string{"api", "controllers", "cmd/manager"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			text := string(data)
			if strings.HasPrefix(text, "//go:build") {
				_, text, _ = strings.Cut(text, "\n\n")
			}
			if !strings.HasPrefix(text, string(boilerplate)) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s: no license header (run `make license-headers`)", rel)
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no Go files found under api/, controllers/, cmd/manager/")
	}
}
