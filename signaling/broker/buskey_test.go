package broker

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBusKeySealOpen(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32)
	key, err := NewBusKey(k1)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(`{"t":"user","u":"bob","f":"alice","o":"node-a"}`)
	sealed := key.Seal("channel:node:{node-b}", msg)
	if got, err := key.Open("channel:node:{node-b}", sealed); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("round trip: %q %v", got, err)
	}
	tampered := bytes.Replace(sealed, []byte("alice"), []byte("carol"), 1)
	cases := map[string]struct {
		channel string
		raw     []byte
		want    error
	}{
		"unsigned":                {"channel:node:{node-b}", msg, errUnsigned},
		"payload changed":         {"channel:node:{node-b}", tampered, errBadMAC},
		"replayed on another one": {"channel:node:{node-c}", sealed, errBadMAC},
		"truncated MAC":           {"channel:node:{node-b}", sealed[:20], errUnsigned},
	}
	for name, tc := range cases {
		if _, err := key.Open(tc.channel, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	other, _ := NewBusKey(k2)
	if _, err := other.Open("channel:node:{node-b}", sealed); !errors.Is(err, errBadMAC) {
		t.Errorf("another key: err = %v, want bad_mac", err)
	}
	// Rotation: a node holding "new, old" signs with new and still accepts old.
	rotating, _ := NewBusKey(k2, k1)
	if _, err := rotating.Open("channel:node:{node-b}", sealed); err != nil {
		t.Errorf("old key during a rotation: %v", err)
	}
	if _, err := key.Open("c", rotating.Seal("c", msg)); !errors.Is(err, errBadMAC) {
		t.Errorf("a node that has only the old key must refuse the new one: %v", err)
	}
}

func TestLoadBusKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, err := LoadBusKey(write("two", "\n"+strings.Repeat("n", 40)+"\n  "+strings.Repeat("o", 32)+"  \n"))
	if err != nil || len(k.keys) != 2 || string(k.keys[0]) != strings.Repeat("n", 40) {
		t.Fatalf("keys %v err %v", k, err)
	}
	for name, content := range map[string]string{"short": "too-short\n", "empty": "\n\n"} {
		if _, err := LoadBusKey(write(name, content)); err == nil {
			t.Errorf("%s key file accepted", name)
		}
	}
	if _, err := LoadBusKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
