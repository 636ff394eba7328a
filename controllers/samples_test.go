/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

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
