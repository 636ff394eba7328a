package main

import (
	"archive/tar"
	"path"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var wantRefs = map[string]string{
	"signaling": "ghcr.io/switchboard-rtc/signaling",
	"manager":   "ghcr.io/switchboard-rtc/manager",
	"pause":     "switchboard.local/pause",
	"mediastub": "switchboard.local/mediastub",
	"redis":     "switchboard.local/redis",
}

// Every image is tagged with the chart's appVersion, the single source of the version.
func TestImageRefsCarryTheChartAppVersion(t *testing.T) {
	version := chartAppVersion(t)
	images := loadImages(t, imagesDir(t))
	var got []string
	for n := range images {
		got = append(got, n)
	}
	sort.Strings(got)
	if want := []string{"manager", "mediastub", "pause", "redis", "signaling"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("images.txt lists %v, want %v", got, want)
	}
	for n, im := range images {
		if want := wantRefs[n] + ":" + version; im.Ref.Name() != want {
			t.Errorf("%s: ref %s, want %s", n, im.Ref.Name(), want)
		}
	}
}

func TestImageConfigs(t *testing.T) {
	version := chartAppVersion(t)
	specs := map[string]imageSpec{}
	for _, s := range imageSpecs("/usr/bin/redis-server") {
		specs[s.Name] = s
	}
	for n, im := range loadImages(t, imagesDir(t)) {
		cf, err := im.Img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", n, c.User)
		}
		if want := specs[n].Entrypoint; !reflect.DeepEqual(c.Entrypoint, want) {
			t.Errorf("%s: entrypoint %q, want %q", n, c.Entrypoint, want)
		}
		if c.WorkingDir == "" {
			t.Errorf("%s: no working directory", n)
		}
		if cf.OS != "linux" || cf.Architecture == "" {
			t.Errorf("%s: platform %s/%s", n, cf.OS, cf.Architecture)
		}
		for _, key := range []string{"source", "version", "revision", "licenses"} {
			if c.Labels["org.opencontainers.image."+key] == "" {
				t.Errorf("%s: label org.opencontainers.image.%s missing", n, key)
			}
		}
		if got := c.Labels["org.opencontainers.image.version"]; got != version {
			t.Errorf("%s: version label %q, want the chart's appVersion %q", n, got, version)
		}
		if !cf.Created.Equal(cf.History[0].Created.Time) {
			t.Errorf("%s: config created %v, history %v: every time must be SOURCE_DATE_EPOCH", n, cf.Created, cf.History[0].Created)
		}
	}
}

// No shell (or any other interpreter) in any layer; the entrypoint is an executable regular
// file; the non-root user exists; every file carries the same time.
func TestImageFileSystems(t *testing.T) {
	shells := map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "busybox": true, "zsh": true}
	for n, im := range loadImages(t, imagesDir(t)) {
		cf, err := im.Img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		files := flatten(t, im.Img)
		for p, f := range files {
			if shells[path.Base(p)] {
				t.Errorf("%s: shell %s in the image", n, p)
			}
			if !f.Header.ModTime.Equal(cf.Created.Time) {
				t.Errorf("%s: %s has time %v, want %v", n, p, f.Header.ModTime, cf.Created.Time)
			}
		}
		entry := files[cf.Config.Entrypoint[0]]
		if entry.Header == nil || entry.Header.Typeflag != tar.TypeReg || entry.Header.Mode&0o111 == 0 {
			t.Errorf("%s: entrypoint %s is not an executable file in the image", n, cf.Config.Entrypoint[0])
		}
		if passwd := string(files["/etc/passwd"].Data); !strings.Contains(passwd, ":65532:65532:") {
			t.Errorf("%s: /etc/passwd has no 65532 user: %q", n, passwd)
		}
		if tmp := files["/tmp"]; tmp.Header == nil || tmp.Header.Mode&0o1777 != 0o1777 {
			t.Errorf("%s: /tmp missing or not world-writable with the sticky bit", n)
		}
		if wd := files[cf.Config.WorkingDir]; cf.Config.WorkingDir != "/" && wd.Header == nil {
			t.Errorf("%s: working directory %s missing", n, cf.Config.WorkingDir)
		}
	}
}
