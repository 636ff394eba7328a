package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// buildInput is what every image shares: where the Go binaries are, the build's identity and time.
type buildInput struct {
	BinDir   string
	Version  string
	Revision string
	Created  time.Time
	Arch     string
	// CACertificates is the host's CA bundle (PEM) put at /etc/ssl/certs/ca-certificates.crt;
	// empty leaves it out.
	CACertificates []byte
}

// The distroless-style base: the nonroot user (no home directory: nothing in these images
// writes one), /tmp, name-service config, CA bundle.
const (
	etcPasswd    = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"
	etcGroup     = "root:x:0:\nnonroot:x:65532:\n"
	nsswitch     = "hosts: files dns\n"
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

func baseLayer(in buildInput) (v1.Layer, error) {
	b := newLayerBuilder()
	b.addFile("/etc/passwd", 0o644, 0, 0, []byte(etcPasswd))
	b.addFile("/etc/group", 0o644, 0, 0, []byte(etcGroup))
	b.addFile("/etc/nsswitch.conf", 0o644, 0, 0, []byte(nsswitch))
	if len(in.CACertificates) > 0 {
		b.addFile(caBundlePath, 0o644, 0, 0, in.CACertificates)
	}
	b.addDir("/tmp", 0o1777, 0, 0)
	return layerFromBuilder(b, in.Created)
}

// appLayer holds the image's binary (and, for a host binary, the libraries it links).
func appLayer(spec imageSpec, in buildInput) (v1.Layer, error) {
	b := newLayerBuilder()
	src := spec.Binary
	if !spec.HostBinary {
		src = filepath.Join(in.BinDir, spec.Binary)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", spec.Name, err)
	}
	b.addFile(spec.Path, 0o755, 0, 0, data)
	if spec.HostBinary {
		libs, err := sharedLibraries(src)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", spec.Name, err)
		}
		for _, lib := range libs {
			// The loader and the libraries are often symlinks on the host; the image gets the
			// file's content at the path the loader searches.
			content, err := os.ReadFile(lib)
			if err != nil {
				return nil, fmt.Errorf("image %s: library: %w", spec.Name, err)
			}
			b.addFile(lib, 0o755, 0, 0, content)
		}
	}
	for _, d := range spec.Dirs {
		b.addDir(d, 0o755, nonRoot, nonRoot)
	}
	return layerFromBuilder(b, in.Created)
}

func layerFromBuilder(b *layerBuilder, mtime time.Time) (v1.Layer, error) {
	data, err := b.tar(mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// buildImage assembles one image: the base layer, the app layer and an OCI config whose every
// time is in.Created, so that the same inputs give the same digest.
func buildImage(spec imageSpec, base v1.Layer, in buildInput) (v1.Image, error) {
	app, err := appLayer(spec, in)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: in.Created}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "imagebuild: base (nonroot user, /tmp, CA certificates)", Comment: "switchboard base"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "imagebuild: " + spec.Path}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = in.Arch
	cf.OS = "linux"
	cf.Created = created
	cf.Author = "The Switchboard Authors"
	cf.Config = v1.Config{
		User:       nonRootUser,
		Entrypoint: spec.Entrypoint,
		WorkingDir: spec.WorkingDir,
		Env:        []string{defaultPath},
		Labels:     labels(spec, in),
	}
	if len(spec.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

func labels(spec imageSpec, in buildInput) map[string]string {
	return map[string]string{
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.url":         sourceURL,
		"org.opencontainers.image.version":     in.Version,
		"org.opencontainers.image.revision":    in.Revision,
		"org.opencontainers.image.licenses":    spec.Licenses,
		"org.opencontainers.image.title":       spec.Title,
		"org.opencontainers.image.description": spec.Description,
		"org.opencontainers.image.vendor":      "The Switchboard Authors",
		"org.opencontainers.image.created":     in.Created.UTC().Format(time.RFC3339),
	}
}
