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

// Image policy: with the manager's --allowed-image-prefixes set, a SignalingCluster may only
// run signaling images under those prefixes. A refused image leaves the Deployment as it is
// (pods keep running what they ran) and is reported as Degraded=ImageNotAllowed plus an Event.

package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

// ParseImagePrefixes splits the comma-separated --allowed-image-prefixes value.
func ParseImagePrefixes(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// imageAllowed reports whether image starts with one of the prefixes; no prefixes allow all.
func imageAllowed(image string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(image, p) {
			return true
		}
	}
	return false
}

// checkImagePolicy records a refused spec.image in the scope; the Deployment step then leaves
// the Deployment alone. The manager's own default image is always allowed.
func (r *SignalingClusterReconciler) checkImagePolicy(_ context.Context, s *scope) error {
	image := s.sc.Spec.Image
	if image == "" || imageAllowed(image, r.Options.AllowedImagePrefixes) {
		return nil
	}
	s.imageRefused = fmt.Sprintf("image %q is not under an allowed prefix (%s)", image, strings.Join(r.Options.AllowedImagePrefixes, ", "))
	if r.Recorder != nil {
		if c := meta.FindStatusCondition(s.sc.Status.Conditions, v1alpha1.ConditionDegraded); c == nil ||
			c.Reason != v1alpha1.ReasonImageNotAllowed || c.ObservedGeneration != s.sc.Generation {
			r.Recorder.Eventf(s.sc, nil, corev1.EventTypeWarning, v1alpha1.EventImageNotAllowed, "Refuse", "%s", s.imageRefused)
		}
	}
	return nil
}
