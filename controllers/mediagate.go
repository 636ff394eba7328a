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

import "time"

// stepMediaHealth applies one probe result to the media health gate: it counts consecutive
// failures and successes and flips the verdict when a threshold is reached (no verdict
// until the first threshold). It is pure, so the gate's arithmetic is tested as a table.
func stepMediaHealth(mh MediaHealth, probeErr error, now time.Time, mc MediaCheckConfig) (next MediaHealth, transitioned bool) {
	mh.LastProbe = now
	if probeErr == nil {
		mh.ConsecutiveFailures = 0
		mh.ConsecutiveSuccesses = min(mh.ConsecutiveSuccesses+1, mc.SuccessThreshold)
		if (mh.Verdict == nil || !*mh.Verdict) && mh.ConsecutiveSuccesses >= mc.SuccessThreshold {
			mh.Verdict, mh.LastTransition, transitioned = boolPtr(true), now, true
		}
		return mh, transitioned
	}
	mh.ConsecutiveSuccesses = 0
	mh.ConsecutiveFailures++
	mh.LastError = probeErr.Error()
	if (mh.Verdict == nil || *mh.Verdict) && mh.ConsecutiveFailures >= mc.FailureThreshold {
		mh.Verdict, mh.LastTransition, transitioned = boolPtr(false), now, true
	}
	return mh, transitioned
}
