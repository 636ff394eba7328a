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
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// flagsWithoutSpecField are the node flags a SignalingCluster deliberately cannot set, each
// with the reason. Everything else must be a typed spec field.
var flagsWithoutSpecField = map[string]string{
	"dev":        "development mode generates its own key pair and prints a token: never in a cluster",
	"redis-url":  "spec.redis (mode, addresses, tls, username, password) renders the equivalent SIGNALING_REDIS_ADDRS form",
	"dev-unsafe": "only meaningful with --dev, which a cluster never runs",
}

// flagsOwnedByTheOperator are rendered by the operator from its own contract rather than from a
// spec field: the container port its probes and Service target, and the pod name as node id.
var flagsOwnedByTheOperator = map[string]string{
	"listen":         "the container port the probes and the Service use",
	"node-id":        "the pod name, through the downward API",
	"metrics-listen": "the container port \"metrics\" the scrape annotations name",
}

var usageFlagLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)  \[(SIGNALING_[A-Z0-9_]+)\]`)

// nodeFlags enumerates the node's flag set from its --help output (flag name → env var).
func nodeFlags(t *testing.T) map[string]string {
	t.Helper()
	var usage strings.Builder
	_, _ = config.Parse([]string{"--help"}, func(string) string { return "" }, &usage)
	flags := map[string]string{}
	for _, m := range usageFlagLine.FindAllStringSubmatch(usage.String(), -1) {
		flags[m[1]] = m[2]
	}
	if len(flags) < 40 {
		t.Fatalf("found only %d flags in the node's --help output; did its format change?\n%s", len(flags), usage.String())
	}
	return flags
}

// Every node flag is a SignalingCluster field: fullCluster (which sets every spec field) renders
// each flag's variable with a value other than the node's default, so a new node flag without a
// CR field — or a field the builder ignores — fails here. Exclusions are listed above with why.
func TestEveryNodeFlagHasASignalingClusterField(t *testing.T) {
	sc := fullCluster()
	d := desiredDeployment(sc, Options{SignalingImage: "sig:1"}, "hash")
	env := renderedEnv(t, d.Spec.Template.Spec.Containers[0], desiredConfigData(sc))

	var usage strings.Builder
	_, _ = config.Parse([]string{"--help"}, func(string) string { return "" }, &usage)
	defaults := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)  \[[A-Z0-9_]+\]\n      .*\(default ([^)]*)\)$`).FindAllStringSubmatch(usage.String(), -1) {
		defaults[m[1]] = m[2]
	}

	for flag, envName := range nodeFlags(t) {
		if _, excluded := flagsWithoutSpecField[flag]; excluded {
			if _, rendered := env[envName]; rendered {
				t.Errorf("--%s is listed as having no spec field, yet the operator renders %s", flag, envName)
			}
			continue
		}
		v, rendered := env[envName]
		if !rendered {
			t.Errorf("node flag --%s (%s) has no SignalingCluster field: add one (api/v1alpha1, controllers/nodeenv.go, fullCluster) or list it in flagsWithoutSpecField with the reason", flag, envName)
			continue
		}
		if _, owned := flagsOwnedByTheOperator[flag]; owned {
			continue
		}
		def, ok := defaults[flag]
		if !ok && (v == "" || v == "false" || v == "0" || v == "0s") || ok && v == def {
			t.Errorf("fullCluster renders %s=%s, the node's default: set the field to another value so the test proves it reaches the node", envName, v)
		}
	}
}

// The exclusion lists name only real flags, so a removed flag does not leave a stale excuse.
func TestFlagExclusionsNameRealFlags(t *testing.T) {
	flags := nodeFlags(t)
	for _, list := range []map[string]string{flagsWithoutSpecField, flagsOwnedByTheOperator} {
		for flag, why := range list {
			if why == "" {
				t.Errorf("--%s is excluded without a reason", flag)
			}
			if _, ok := flags[flag]; !ok {
				t.Errorf("--%s is excluded but the node has no such flag", flag)
			}
		}
	}
}

// The pod-level fields beside the node flags reach the pod template; the user's env follows
// the operator's own variables.
func TestPodFieldsReachThePodTemplate(t *testing.T) {
	sc := fullCluster()
	ps := desiredDeployment(sc, Options{SignalingImage: "sig:1"}, "hash").Spec.Template.Spec
	if len(ps.ImagePullSecrets) != 1 || ps.ImagePullSecrets[0].Name != "registry" {
		t.Errorf("imagePullSecrets %v", ps.ImagePullSecrets)
	}
	if ps.PriorityClassName != "realtime" {
		t.Errorf("priorityClassName %q", ps.PriorityClassName)
	}
	env := ps.Containers[0].Env
	if last := env[len(env)-1]; last.Name != "GODEBUG" || last.Value != "madvdontneed=1" {
		t.Errorf("user env not appended: %v", env)
	}
	if env[0].Name != "SIGNALING_NODE_ID" {
		t.Errorf("operator env not first: %v", env)
	}
}
