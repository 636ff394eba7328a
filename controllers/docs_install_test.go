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
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// The SignalingCluster of docs/operator.md's production install (the chart README carries the
// same one; test/chart checks they match) is accepted by the API server — schema and CEL rules —
// and what the operator renders from it passes the node's own configuration checks, the
// fail-closed ones included: a node would start with it rather than crash-loop.
func TestDocumentedProductionSignalingClusterStartsANode(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "operator.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	const heading = "\n## A hardened production install\n"
	start := strings.Index(doc, heading)
	if start < 0 {
		t.Fatalf("docs/operator.md has no section %q", strings.TrimSpace(heading))
	}
	section := doc[start+len(heading):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	_, block, opened := strings.Cut(section, "```yaml\n")
	block, _, closed := strings.Cut(block, "```")
	if !opened || !closed {
		t.Fatal("no yaml block in the production install")
	}

	sc := &v1alpha1.SignalingCluster{}
	if err := yaml.UnmarshalStrict([]byte(block), sc); err != nil {
		t.Fatalf("the documented SignalingCluster: %v", err)
	}
	sc.Namespace = newNamespace(t)
	if err := testClient.Create(context.Background(), sc, client.DryRunAll); err != nil {
		t.Fatalf("the API server rejects the documented SignalingCluster: %v", err)
	}

	d := desiredDeployment(sc, Options{SignalingImage: "sig:1", RedisImage: "redis:1"}, "hash")
	env := renderedEnv(t, d.Spec.Template.Spec.Containers[0], desiredConfigData(sc))
	got, err := config.Parse(d.Spec.Template.Spec.Containers[0].Args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the node refuses the rendered configuration: %v", err)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("a node would not start with the documented SignalingCluster: %v", err)
	}
	if got.RedisUsername == "" || !got.RedisTLS || got.BusKeyFile == "" || !got.RequireRoomGrant {
		t.Errorf("the documented production node lacks an ACL user, TLS, a bus key or room grants: %+v", got)
	}
}
