package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// layerEntry is one file or directory of a layer.
type layerEntry struct {
	Path     string // absolute path in the image
	Dir      bool
	Mode     int64
	UID, GID int
	Data     []byte
}

// layerBuilder collects entries and writes them as a reproducible tar: sorted paths, parent
// directories added, one fixed modification time, numeric owners only.
type layerBuilder struct {
	entries map[string]layerEntry
}

func newLayerBuilder() *layerBuilder { return &layerBuilder{entries: map[string]layerEntry{}} }

func (b *layerBuilder) addFile(p string, mode int64, uid, gid int, data []byte) {
	b.entries[clean(p)] = layerEntry{Path: clean(p), Mode: mode, UID: uid, GID: gid, Data: data}
}

func (b *layerBuilder) addDir(p string, mode int64, uid, gid int) {
	b.entries[clean(p)] = layerEntry{Path: clean(p), Dir: true, Mode: mode, UID: uid, GID: gid}
}

// tar returns the layer's bytes with every time set to mtime.
func (b *layerBuilder) tar(mtime time.Time) ([]byte, error) {
	// Parent directories that were not added explicitly: root-owned, 0755.
	for p := range b.entries {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := b.entries[d]; !ok {
				b.entries[d] = layerEntry{Path: d, Dir: true, Mode: 0o755}
			}
		}
	}
	paths := make([]string, 0, len(b.entries))
	for p := range b.entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := b.entries[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if e.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar header %s: %w", p, err)
		}
		if !e.Dir {
			if _, err := io.Copy(tw, bytes.NewReader(e.Data)); err != nil {
				return nil, fmt.Errorf("tar data %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func clean(p string) string { return path.Clean("/" + p) }
