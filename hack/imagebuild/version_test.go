package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// extractBinary writes the image's file at p to a temporary executable and returns its path.
func extractBinary(t *testing.T, im builtImage, p string) string {
	t.Helper()
	f, ok := flatten(t, im.Img)[p]
	if !ok {
		t.Fatalf("%s: no %s in the image", im.Ref.Name(), p)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(p))
	if err := os.WriteFile(out, f.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// The binaries inside the images answer --version with the image's version and revision.
func TestBinariesInImagesReportTheirVersion(t *testing.T) {
	images := loadImages(t, imagesDir(t))
	for _, n := range []string{"signaling", "manager"} {
		im := images[n]
		cf, err := im.Img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		bin := extractBinary(t, im, cf.Config.Entrypoint[0])
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", n, err, out)
		}
		want := n + " " + cf.Config.Labels["org.opencontainers.image.version"] +
			" (revision " + cf.Config.Labels["org.opencontainers.image.revision"] + ","
		if !strings.HasPrefix(string(out), want) {
			t.Errorf("%s --version = %q, want prefix %q", n, out, want)
		}
	}
}

// The chart's appVersion, the manager's default signaling image and the built signaling image
// are one and the same release: a manager installed without --signaling-image runs the
// signaling image built next to it.
func TestManagerDefaultSignalingImageIsTheBuiltOne(t *testing.T) {
	images := loadImages(t, imagesDir(t))
	manager := images["manager"]
	cf, err := manager.Img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	bin := extractBinary(t, manager, cf.Config.Entrypoint[0])
	// --help prints every flag's default and exits 0 (flag.ErrHelp) without a cluster.
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	m := regexp.MustCompile(`(?m)-signaling-image string\n.*\(default "([^"]+)"\)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("manager --help shows no default for --signaling-image:\n%s", out)
	}
	defaultImage := string(m[1])
	signaling := images["signaling"].Ref.Name()
	chartTag := "ghcr.io/switchboard-rtc/signaling:" + chartAppVersion(t)
	if defaultImage != signaling || signaling != chartTag {
		t.Errorf("manager default %s, built %s, chart appVersion gives %s: all three must agree", defaultImage, signaling, chartTag)
	}
}

// The kustomize manifests in config/manager name the same release as the chart.
func TestKustomizeManifestsUseTheRelease(t *testing.T) {
	version := chartAppVersion(t)
	root := repoRoot(t)
	for file, want := range map[string][]string{
		"config/manager/kustomization.yaml": {"newName: ghcr.io/switchboard-rtc/manager", "newTag: " + version},
		"config/manager/manager.yaml":       {"--signaling-image=ghcr.io/switchboard-rtc/signaling:" + version},
	} {
		data, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s: no %q (the chart's appVersion is %s)", file, w, version)
			}
		}
	}
}
