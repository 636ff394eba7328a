package main

import (
	"archive/tar"
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The tests read what `make test-images` (which runs `make images` first) left in IMAGES_DIR.
// A missing variable or tarball fails loudly instead of skipping.

func repoRoot(t *testing.T) string {
	t.Helper()
	root := os.Getenv("REPO_ROOT")
	if root == "" {
		t.Fatal("REPO_ROOT is not set: run these tests with `make test-images`")
	}
	return root
}

func imagesDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMAGES_DIR")
	if dir == "" {
		t.Fatal("IMAGES_DIR is not set: run these tests with `make test-images`")
	}
	return dir
}

// builtImage is one line of images.txt, loaded.
type builtImage struct {
	File string
	Ref  name.Tag
	Img  v1.Image
}

// loadImages reads images.txt in dir and opens every tarball it lists, keyed by tarball name.
func loadImages(t *testing.T, dir string) map[string]builtImage {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images := map[string]builtImage{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("images.txt line %q: want \"<tarball> <image ref>\"", sc.Text())
		}
		ref, err := name.NewTag(fields[1])
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(fields[0], &ref)
		if err != nil {
			t.Fatalf("%s: %v", fields[0], err)
		}
		images[strings.TrimSuffix(filepath.Base(fields[0]), ".tar")] = builtImage{File: fields[0], Ref: ref, Img: img}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return images
}

// imageFile is a regular file, directory or link found in an image's layers.
type imageFile struct {
	Header *tar.Header
	Data   []byte // regular files only
}

// flatten returns the image's file system (later layers win; these images have no whiteouts).
func flatten(t *testing.T, img v1.Image) map[string]imageFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]imageFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			f := imageFile{Header: h}
			if h.Typeflag == tar.TypeReg {
				if f.Data, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
			files["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = f
		}
		rc.Close()
	}
	return files
}

// chartAppVersion reads appVersion from the chart without a YAML dependency: the line is
// `appVersion: "v0.1.0"`.
func chartAppVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "charts/switchboard/Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	t.Fatal("Chart.yaml has no appVersion")
	return ""
}
