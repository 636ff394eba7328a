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
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// emittedEvents drives emitTransitionEvents from old to new status and returns the events.
func emittedEvents(t *testing.T, sc *v1alpha1.SignalingCluster, old, new statusInputs) []string {
	t.Helper()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	old.Now, new.Now = now, now.Add(time.Minute)
	sc.Status = computeStatus(sc, old)
	rec := events.NewFakeRecorder(16)
	r := &SignalingClusterReconciler{Recorder: rec}
	r.emitTransitionEvents(sc, computeStatus(sc, new))
	return recorded(rec)
}

// recorded closes the fake recorder and returns what it recorded.
func recorded(rec *events.FakeRecorder) []string {
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	return got
}

// TestEveryEventReasonIsEmitted: each Event reason in api/v1alpha1 is emitted by the
// controller for the transition it names (and a reason no code emits fails the test).
func TestEveryEventReasonIsEmitted(t *testing.T) {
	healthy, unhealthy := true, false
	withMedia := minimalCluster()
	withMedia.Spec.MediaService = &v1alpha1.MediaServiceSpec{URL: "http://x"}
	up := &RedisCheck{OK: true, Reason: v1alpha1.ReasonRedisPingSucceeded, Message: "PONG"}
	down := &RedisCheck{Reason: v1alpha1.ReasonRedisUnreachable, Message: "refused"}
	media := func(v *bool) *MediaHealth {
		return &MediaHealth{Verdict: v, LastProbe: time.Unix(1, 0), ConsecutiveFailures: 3}
	}
	transitions := map[string]func() []string{
		v1alpha1.EventRedisReady: func() []string {
			return emittedEvents(t, minimalCluster(), statusInputs{Snapshot: &Snapshot{Redis: down}}, statusInputs{Snapshot: &Snapshot{Redis: up}})
		},
		v1alpha1.EventRedisNotReady: func() []string {
			return emittedEvents(t, minimalCluster(), statusInputs{Snapshot: &Snapshot{Redis: up}}, statusInputs{Snapshot: &Snapshot{Redis: down}})
		},
		v1alpha1.EventMediaServiceHealthy: func() []string {
			return emittedEvents(t, withMedia.DeepCopy(), statusInputs{Snapshot: &Snapshot{Media: media(&unhealthy)}},
				statusInputs{Snapshot: &Snapshot{Media: media(&healthy)}})
		},
		v1alpha1.EventMediaServiceUnhealthy: func() []string {
			return emittedEvents(t, withMedia.DeepCopy(), statusInputs{Snapshot: &Snapshot{Media: media(&healthy)}},
				statusInputs{Snapshot: &Snapshot{Media: media(&unhealthy)}})
		},
		v1alpha1.EventReconcileError: func() []string {
			return emittedEvents(t, minimalCluster(), statusInputs{}, statusInputs{ReconcileErr: errors.New("apply: conflict")})
		},
		v1alpha1.EventImageNotAllowed: func() []string {
			sc := minimalCluster()
			sc.Spec.Image = "elsewhere.example.test/signaling:1"
			return imagePolicyEvents(t, sc, []string{"registry.example.test/"})
		},
	}
	for _, reason := range eventReasonConstants(t) {
		emit, ok := transitions[reason]
		if !ok {
			t.Errorf("Event reason %q is defined in api/v1alpha1 but no test transition emits it: emit it or remove it", reason)
			continue
		}
		got := emit()
		found := false
		for _, e := range got {
			found = found || strings.Contains(e, " "+reason+" ")
		}
		if !found {
			t.Errorf("transition for %s emitted %q", reason, got)
		}
	}
	// Reported once: a second reconcile with the same error emits nothing new.
	if got := emittedEvents(t, minimalCluster(), statusInputs{ReconcileErr: errors.New("x")}, statusInputs{ReconcileErr: errors.New("x")}); len(got) != 0 {
		t.Errorf("a persisting reconcile error emitted %q again", got)
	}
}

// imagePolicyEvents runs the image-policy check on sc and returns the events it emitted.
func imagePolicyEvents(t *testing.T, sc *v1alpha1.SignalingCluster, prefixes []string) []string {
	t.Helper()
	rec := events.NewFakeRecorder(16)
	r := &SignalingClusterReconciler{Recorder: rec, Options: Options{AllowedImagePrefixes: prefixes}}
	if err := r.checkImagePolicy(context.Background(), &scope{sc: sc}); err != nil {
		t.Fatal(err)
	}
	return recorded(rec)
}

// TestEventReasonsAreAPIConstants: every Eventf call in the controller names its reason through
// an identifier, never a string literal, so the Event* constants of api/v1alpha1 (which the test
// above proves emitted) are the complete list of reasons users can filter on.
func TestEventReasonsAreAPIConstants(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Eventf" || len(call.Args) < 4 {
				return true
			}
			calls++
			if lit, ok := call.Args[3].(*ast.BasicLit); ok {
				t.Errorf("%s: Eventf with the literal reason %s: declare it as an Event* constant in api/v1alpha1", name, lit.Value)
			}
			return true
		})
	}
	if calls == 0 {
		t.Fatal("no Eventf calls found in the controller")
	}
}

// eventReasonConstants lists the values of the Event* constants declared in api/v1alpha1.
func eventReasonConstants(t *testing.T) []string {
	t.Helper()
	pkgFiles, err := filepath.Glob("../api/v1alpha1/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, name := range pkgFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, eventConstantsIn(f)...)
	}
	if len(reasons) == 0 {
		t.Fatal("no Event* constants found in api/v1alpha1")
	}
	return reasons
}

func eventConstantsIn(f *ast.File) []string {
	var reasons []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if strings.HasPrefix(name.Name, "Event") && i < len(vs.Values) {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
					reasons = append(reasons, strings.Trim(lit.Value, `"`))
				}
			}
		}
		return true
	})
	return reasons
}
