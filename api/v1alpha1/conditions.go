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

import "time"

// Condition types reported in SignalingClusterStatus.Conditions.
const (
	// ConditionAvailable is True when the signaling Deployment has its minimum of available pods.
	ConditionAvailable = "Available"
	// ConditionProgressing is True while a rollout or scale operation is in progress.
	ConditionProgressing = "Progressing"
	// ConditionRedisReady is True when the configured Redis answers PING with the configured
	// credentials; for the managed Redis, when a PING through its Service name answers or,
	// where the operator cannot reach that name, when signaling pods are Ready.
	ConditionRedisReady = "RedisReady"
	// ConditionMediaServiceHealthy reflects the media-service health gate. It is absent when no
	// media service is configured.
	ConditionMediaServiceHealthy = "MediaServiceHealthy"
	// ConditionDegraded is True when something needs attention: Redis unreachable, media service
	// unhealthy, a failed rollout or an error while reconciling.
	ConditionDegraded = "Degraded"
	// ConditionReady is True only when the current spec is rolled out (every pod runs the
	// current template and is available), Redis is reachable and the media gate is not failing.
	ConditionReady = "Ready"
	// ConditionReconciling (kstatus, abnormal-true) is True while the cluster is not Ready and
	// not Stalled; it is absent otherwise. Helm's and Flux's kstatus checks wait on it.
	ConditionReconciling = "Reconciling"
	// ConditionStalled (kstatus, abnormal-true) is True when the rollout stopped making progress
	// (the Deployment's progress deadline passed); it is absent otherwise.
	ConditionStalled = "Stalled"
)

// Condition reasons.
const (
	// ReasonMinimumReplicasAvailable: the Deployment reports enough available pods.
	ReasonMinimumReplicasAvailable = "MinimumReplicasAvailable"
	// ReasonMinimumReplicasUnavailable: the Deployment does not have enough available pods.
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	// ReasonDeploymentPending: the Deployment has not been created or observed yet.
	ReasonDeploymentPending = "DeploymentPending"
	// ReasonScaledToZero: spec.replicas is 0.
	ReasonScaledToZero = "ScaledToZero"

	// ReasonRollingUpdate: pods of an older template are being replaced.
	ReasonRollingUpdate = "RollingUpdate"
	// ReasonRolloutComplete: every pod runs the current template and is available.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonProgressDeadlineExceeded: the Deployment stopped making progress.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"

	// ReasonRedisPingSucceeded: PING with the configured credentials returned PONG.
	ReasonRedisPingSucceeded = "PingSucceeded"
	// ReasonRedisUnreachable: no connection could be made, or it timed out.
	ReasonRedisUnreachable = "Unreachable"
	// ReasonRedisAuthFailed: Redis refused the credentials.
	ReasonRedisAuthFailed = "AuthenticationFailed"
	// ReasonRedisPingFailed: Redis answered PING with another error.
	ReasonRedisPingFailed = "PingFailed"
	// ReasonSecretNotFound: a referenced Secret or key does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonRedisNodesReady (managed Redis): the operator cannot PING the managed Redis's
	// Service name (it runs outside the cluster network), but signaling pods are Ready, which a
	// node is only while its Redis bus works.
	ReasonRedisNodesReady = "NodesReady"
	// ReasonRedisNodesNotReady (managed Redis): the operator's PING through the Service name did
	// not succeed and no signaling pod is Ready.
	ReasonRedisNodesNotReady = "NodesNotReady"
	// ReasonCheckPending: no check has completed yet.
	ReasonCheckPending = "CheckPending"

	// ReasonMediaHealthy: the media service passed successThreshold consecutive checks.
	ReasonMediaHealthy = "HealthCheckPassed"
	// ReasonMediaUnhealthy: the media service failed failureThreshold consecutive checks.
	ReasonMediaUnhealthy = "HealthCheckFailed"

	// ReasonReconcileError: the operator could not apply an owned object.
	ReasonReconcileError = "ReconcileError"
	// ReasonAsExpected: nothing is degraded.
	ReasonAsExpected = "AsExpected"

	// ReasonReady: rolled out, Redis reachable, media gate not failing.
	ReasonReady = "Ready"
	// ReasonRolloutInProgress: pods of the current template are not all updated and available.
	ReasonRolloutInProgress = "RolloutInProgress"
	// ReasonRedisNotReady: the RedisReady condition is not True.
	ReasonRedisNotReady = "RedisNotReady"
	// ReasonMediaServiceUnhealthy: the media gate's verdict is unhealthy.
	ReasonMediaServiceUnhealthy = "MediaServiceUnhealthy"
)

// Event reasons emitted on the SignalingCluster.
const (
	EventMediaServiceHealthy   = "MediaServiceHealthy"
	EventMediaServiceUnhealthy = "MediaServiceUnhealthy"
	EventRedisReady            = "RedisReady"
	EventRedisNotReady         = "RedisNotReady"
	EventReconcileError        = "ReconcileError"
)

// Defaults that the CRD schema applies through markers; the operator's builders fall back to the
// same values so that an object that was not defaulted by an API server behaves the same way.
const (
	DefaultReplicas                 int32 = 2
	DefaultDrainTimeout                   = 30 * time.Second
	DefaultHealthCheckPath                = "/health"
	DefaultHealthCheckInterval            = 10 * time.Second
	DefaultHealthCheckTimeout             = 2 * time.Second
	DefaultHealthFailureThreshold   int32 = 3
	DefaultHealthSuccessThreshold   int32 = 1
	DefaultServicePort              int32 = 80
	DefaultMinReadySeconds          int32 = 5
	DefaultAutoscalingCPUPercentage int32 = 70
	DefaultRedisPort                      = 6379
)
