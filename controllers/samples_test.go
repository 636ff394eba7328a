package controllers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// TestSamplesAreAcceptedByTheAPIServer keeps config/samples valid against the generated CRD.
func TestSamplesAreAcceptedByTheAPIServer(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "signaling_*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := &v1alpha1.SignalingCluster{}
		if err := yaml.UnmarshalStrict(raw, sc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sc.Namespace = ns
		if err := testClient.Create(context.Background(), sc, client.DryRunAll); err != nil {
			t.Errorf("%s rejected: %v", filepath.Base(f), err)
		}
	}
}
