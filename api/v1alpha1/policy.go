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

package v1alpha1

// LabelSecretUse opts a Secret in to being read by the operator. The operator reads and watches
// only Secrets that carry it with the value "true" and that a SignalingCluster references;
// every other Secret stays invisible to it, whatever a SignalingCluster names.
const LabelSecretUse = "signaling.switchboard.dev/use"

// LabelSecretUseValue is the value LabelSecretUse must have.
const LabelSecretUseValue = "true"

// ReasonSecretNotLabelled: a referenced Secret exists but does not carry LabelSecretUse, so
// the operator does not read it.
const ReasonSecretNotLabelled = "SecretNotLabelled"

// ReasonImageNotAllowed: spec.image is outside the manager's --allowed-image-prefixes; the
// Deployment is left as it was.
const ReasonImageNotAllowed = "ImageNotAllowed"

// EventImageNotAllowed is emitted when the operator refuses spec.image.
const EventImageNotAllowed = "ImageNotAllowed"
