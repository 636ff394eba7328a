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
