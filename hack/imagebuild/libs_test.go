package main

import (
	"reflect"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := []byte(`	linux-vdso.so.1 (0x00007ffd4b5f2000)
	libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f5c33120000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5c3261e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f5c33546000)
`)
	got, err := parseLdd(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLdd = %q, want %q", got, want)
	}
	if _, err := parseLdd([]byte("\tlibfoo.so.1 => not found\n")); err == nil {
		t.Error("a missing library must fail the build")
	}
}
