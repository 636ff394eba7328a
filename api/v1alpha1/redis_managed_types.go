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

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// AnnotationRotateRedisPassword on a SignalingCluster asks for a new managed-Redis password:
// whenever its value changes (e.g. to a timestamp), the operator generates a new one. The
// generated password is otherwise kept for the life of the cluster.
const AnnotationRotateRedisPassword = "signaling.switchboard.dev/rotate-redis-password"

// ManagedRedisSpec tunes the operator-run Redis.
type ManagedRedisSpec struct {
	// Resources of the Redis container (default: requests 100m CPU and 128Mi memory, limit
	// 256Mi memory). Redis' maxmemory is not derived from it.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Persistence keeps an append-only file (appendfsync everysec) on a PersistentVolumeClaim
	// `<name>-redis-data`, so a restarted Redis keeps chat buffers and presence. Without it the
	// data lives in an emptyDir and is lost with the pod.
	// +optional
	Persistence *ManagedRedisPersistence `json:"persistence,omitempty"`
}

// ManagedRedisPersistence is the volume of the managed Redis' append-only file.
type ManagedRedisPersistence struct {
	// Size of the volume; it can grow later when the storage class allows expansion.
	// +optional
	// +kubebuilder:default="1Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the claim (default: the cluster's default class). Fixed at creation.
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}
