package main

import (
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Building again from the same source, into other directories, gives byte-identical tarballs and
// so the same image digests: binaries are rebuilt (-trimpath, no VCS stamping), every time is
// SOURCE_DATE_EPOCH and the layers are written in a fixed order.
func TestImagesAreReproducible(t *testing.T) {
	first := loadImages(t, imagesDir(t))
	// Same source identity as the first build, even if a commit landed in between.
	cf, err := first["signaling"].Img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	revision := cf.Config.Labels["org.opencontainers.image.revision"]
	epoch := strconv.FormatInt(cf.Created.Unix(), 10)
	tmp := t.TempDir()
	again := filepath.Join(tmp, "images")
	makeCmd := os.Getenv("MAKE")
	if makeCmd == "" {
		makeCmd = "make"
	}
	cmd := exec.Command(makeCmd, "-C", repoRoot(t), "images", "IMAGES_DIR="+again, "IMAGE_BIN_DIR="+filepath.Join(tmp, "bin"),
		"REVISION="+revision, "SOURCE_DATE_EPOCH="+epoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second make images: %v\n%s", err, out)
	}
	second := loadImages(t, again)
	if len(second) != len(first) {
		t.Fatalf("second build has %d images, first %d", len(second), len(first))
	}
	for n, a := range first {
		b := second[n]
		da, err := a.Img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		db, err := b.Img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if da != db {
			t.Errorf("%s: digest %s, then %s", n, da, db)
		}
		if ha, hb := fileHash(t, a.File), fileHash(t, b.File); ha != hb {
			t.Errorf("%s: tarball sha256 %x, then %x", n, ha, hb)
		}
		t.Logf("%s %s", a.Ref.Name(), da)
	}
}

func fileHash(t *testing.T, file string) [32]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
