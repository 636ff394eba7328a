// Command imagebuild writes Switchboard's container images as image tarballs without a Docker
// daemon or a registry: `make images` builds the static binaries, then runs
//
//	imagebuild -bin-dir bin/imagebin -out-dir bin/images -version v0.1.0 -revision <sha> \
//	    -source-date-epoch <unix seconds> -redis-server /usr/bin/redis-server
//
// Each <out-dir>/<name>.tar is a docker-archive tarball (manifest.json + config + gzip layers)
// that `ctr -n k8s.io images import`, `kind load image-archive` and `docker load` accept.
// <out-dir>/images.txt lists "<tarball> <image ref>" per line. See docs/images.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	binDir := flag.String("bin-dir", "", "directory with the static binaries signaling, manager, pause, mediastub")
	outDir := flag.String("out-dir", "", "directory for the image tarballs and images.txt")
	version := flag.String("version", "", "image tag and org.opencontainers.image.version label")
	revision := flag.String("revision", "unknown", "org.opencontainers.image.revision label (git commit)")
	epoch := flag.Int64("source-date-epoch", 0, "creation time of every file and config, in Unix seconds")
	redisServer := flag.String("redis-server", "/usr/bin/redis-server", "host redis-server executable for the redis test image")
	caBundle := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the images (empty: none)")
	arch := flag.String("arch", runtime.GOARCH, "image architecture (the binaries' GOARCH)")
	flag.Parse()
	if *binDir == "" || *outDir == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "imagebuild: -bin-dir, -out-dir and -version are required")
		os.Exit(2)
	}
	in := buildInput{BinDir: *binDir, Version: *version, Revision: *revision, Created: time.Unix(*epoch, 0).UTC(), Arch: *arch}
	if *caBundle != "" {
		data, err := os.ReadFile(*caBundle)
		if err != nil {
			fmt.Fprintf(os.Stderr, "imagebuild: CA bundle: %v (install ca-certificates or pass -ca-certificates=)\n", err)
			os.Exit(1)
		}
		in.CACertificates = data
	}
	if err := buildAll(imageSpecs(*redisServer), in, *outDir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

// buildAll writes every image tarball and images.txt into outDir.
func buildAll(specs []imageSpec, in buildInput, outDir string, log io.Writer) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	base, err := baseLayer(in)
	if err != nil {
		return err
	}
	var list strings.Builder
	for _, spec := range specs {
		ref, err := name.NewTag(spec.Repository + ":" + in.Version)
		if err != nil {
			return fmt.Errorf("image %s: %w", spec.Name, err)
		}
		img, err := buildImage(spec, base, in)
		if err != nil {
			return err
		}
		file := filepath.Join(outDir, spec.Name+".tar")
		if err := writeTarball(file, ref, img); err != nil {
			return fmt.Errorf("image %s: %w", spec.Name, err)
		}
		id, err := img.ConfigName()
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "%s  %s  image id %s\n", file, ref.Name(), id)
		fmt.Fprintf(&list, "%s %s\n", file, ref.Name())
	}
	return writeAtomically(filepath.Join(outDir, "images.txt"), []byte(list.String()))
}

// writeTarball writes a docker-archive tarball through a temporary file, so that an
// interrupted build never leaves a truncated image behind.
func writeTarball(file string, ref name.Tag, img v1.Image) error {
	tmp := file + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, map[name.Reference]v1.Image{ref: img}); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, file)
}

func writeAtomically(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
