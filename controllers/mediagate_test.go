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
	"errors"
	"testing"
	"time"
)

func TestStepMediaHealth(t *testing.T) {
	fail := errors.New("GET http://sfu/health: status 503")
	mc := MediaCheckConfig{FailureThreshold: 3, SuccessThreshold: 2}
	type want struct {
		verdict      string // "none", "healthy", "unhealthy"
		failures     int32
		successes    int32
		transitioned bool
	}
	cases := []struct {
		name   string
		probes []error
		want   []want // after each probe
	}{
		{"first verdict needs the success threshold", []error{nil, nil, nil}, []want{
			{"none", 0, 1, false}, {"healthy", 0, 2, true}, {"healthy", 0, 2, false}}},
		{"first verdict needs the failure threshold", []error{fail, fail, fail, fail}, []want{
			{"none", 1, 0, false}, {"none", 2, 0, false}, {"unhealthy", 3, 0, true}, {"unhealthy", 4, 0, false}}},
		{"a success resets the failure count", []error{nil, nil, fail, fail, nil, fail, fail, fail}, []want{
			{"none", 0, 1, false}, {"healthy", 0, 2, true}, {"healthy", 1, 0, false}, {"healthy", 2, 0, false},
			{"healthy", 0, 1, false}, {"healthy", 1, 0, false}, {"healthy", 2, 0, false}, {"unhealthy", 3, 0, true}}},
		{"recovery needs consecutive successes", []error{fail, fail, fail, nil, fail, nil, nil}, []want{
			{"none", 1, 0, false}, {"none", 2, 0, false}, {"unhealthy", 3, 0, true}, {"unhealthy", 0, 1, false},
			{"unhealthy", 1, 0, false}, {"unhealthy", 0, 1, false}, {"healthy", 0, 2, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mh MediaHealth
			start := time.Unix(1700000000, 0)
			var lastTransition time.Time
			for i, probe := range tc.probes {
				now := start.Add(time.Duration(i) * time.Second)
				var tr bool
				mh, tr = stepMediaHealth(mh, probe, now, mc)
				verdict := "none"
				if mh.Verdict != nil {
					verdict = map[bool]string{true: "healthy", false: "unhealthy"}[*mh.Verdict]
				}
				got := want{verdict, mh.ConsecutiveFailures, mh.ConsecutiveSuccesses, tr}
				if got != tc.want[i] {
					t.Fatalf("after probe %d (%v): %+v, want %+v", i+1, probe, got, tc.want[i])
				}
				if !mh.LastProbe.Equal(now) {
					t.Fatalf("LastProbe = %v, want %v", mh.LastProbe, now)
				}
				if tr {
					lastTransition = now
				}
				if !mh.LastTransition.Equal(lastTransition) {
					t.Fatalf("LastTransition = %v, want %v", mh.LastTransition, lastTransition)
				}
				if probe != nil && mh.LastError != probe.Error() {
					t.Fatalf("LastError = %q", mh.LastError)
				}
			}
		})
	}
}
