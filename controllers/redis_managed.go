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

// The managed Redis: a single Redis with a password in an owned Secret (generated once, kept
// across reconciles, rotated on request), protected mode on, the password in a mounted
// redis.conf rather than on the command line, a security context that passes the restricted
// Pod Security Standard, resources, and an optional append-only file on a PVC.
//
// The Redis image needs neither a shell nor root: the container runs `redis-server
// /etc/redis/redis.conf` (the official image's entrypoint and hack/imagebuild's redis image both
// accept the config file as the only argument) as uid 65532 with a read-only root filesystem,
// writing only to /data.

package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

const (
	// redisAuthPasswordKey and redisAuthConfigKey are the keys of the managed Redis' Secret.
	redisAuthPasswordKey = "password"
	redisAuthConfigKey   = "redis.conf"
	redisConfigDir       = "/etc/redis"
	redisDataDir         = "/data"
	// annotationRotatedFor on the managed Redis' Secret records the SignalingCluster's
	// rotate-redis-password value the current password was generated for.
	annotationRotatedFor = "signaling.switchboard.dev/rotated-for"
	// redisUID is the non-root user of the Redis container (distroless' nonroot, as in
	// hack/imagebuild; the official image does not need its own redis user to run).
	redisUID = 65532
)

func redisAuthName(sc *v1alpha1.SignalingCluster) string { return sc.Name + "-redis-auth" }
func redisDataName(sc *v1alpha1.SignalingCluster) string { return sc.Name + "-redis-data" }

// redisPasswordRef is the password the signaling pods use: the managed Redis' own Secret, or
// the configured reference for an external Redis.
func redisPasswordRef(sc *v1alpha1.SignalingCluster) *v1alpha1.SecretKeyRef {
	if sc.Spec.Redis.Managed {
		return &v1alpha1.SecretKeyRef{Name: redisAuthName(sc), Key: redisAuthPasswordKey}
	}
	return sc.Spec.Redis.PasswordSecretRef
}

// newRedisPassword returns 32 random bytes, hex-encoded (safe in redis.conf and URLs).
func newRedisPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// redisConfString quotes a value for redis.conf: everything but plain printable ASCII is
// written as \xHH, so no password can end the line or the quoted string.
func redisConfString(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// redisConfig is the managed Redis' configuration file.
func redisConfig(sc *v1alpha1.SignalingCluster, password string) string {
	appendOnly := "no"
	if mi := sc.Spec.Redis.ManagedInstance; mi != nil && mi.Persistence != nil {
		appendOnly = "yes"
	}
	return strings.Join([]string{
		"# Written by the Switchboard operator; edits are overwritten.",
		"port " + strconv.Itoa(redisPort),
		"bind * -::*",
		"protected-mode yes",
		"requirepass " + redisConfString(password),
		"dir " + redisDataDir,
		`save ""`,
		"appendonly " + appendOnly,
		"appendfsync everysec",
		"",
	}, "\n")
}

// ensureManagedRedisAuth keeps the managed Redis' Secret: the password comes from
// spec.redis.passwordSecretRef when set, else it is generated once and kept until the
// rotate-redis-password annotation changes. It records the password in the scope (for the
// operator's PING and the pods' config hash).
func (r *SignalingClusterReconciler) ensureManagedRedisAuth(ctx context.Context, s *scope) error {
	if !s.sc.Spec.Redis.Managed {
		return nil
	}
	if s.sc.Spec.Redis.PasswordSecretRef != nil && !s.passwordOK {
		return nil // the configured password is unreadable; the status says why
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: redisAuthName(s.sc), Namespace: s.sc.Namespace}}
	rotateFor := s.sc.Annotations[v1alpha1.AnnotationRotateRedisPassword]
	var password string
	err := r.applyLocked(ctx, s, secret, func() {
		labels := objectLabels(s.sc, componentRedis)
		labels[v1alpha1.LabelSecretUse] = v1alpha1.LabelSecretUseValue // the operator reads it back
		secret.Labels = mergeStringMaps(secret.Labels, labels)
		password = string(secret.Data[redisAuthPasswordKey])
		switch {
		case s.sc.Spec.Redis.PasswordSecretRef != nil:
			password = s.redisPassword
		case password == "" || secret.Annotations[annotationRotatedFor] != rotateFor:
			p, genErr := newRedisPassword()
			if genErr != nil {
				return // leaves password empty: reported below
			}
			password = p
		}
		if password == "" {
			return
		}
		if rotateFor != "" || secret.Annotations[annotationRotatedFor] != "" {
			secret.Annotations = mergeStringMaps(secret.Annotations, map[string]string{annotationRotatedFor: rotateFor})
		}
		secret.Type = corev1.SecretTypeOpaque
		secret.Data = map[string][]byte{
			redisAuthPasswordKey: []byte(password),
			redisAuthConfigKey:   []byte(redisConfig(s.sc, password)),
		}
	})
	if err != nil {
		return err
	}
	if password == "" {
		return errors.New("generating the managed Redis password failed")
	}
	s.redisPassword, s.passwordOK = password, true
	s.secretValues[redisAuthName(s.sc)+"/"+redisAuthPasswordKey] = []byte(password)
	return nil
}

// managedRedisResources are the container resources, defaulted.
func managedRedisResources(sc *v1alpha1.SignalingCluster) corev1.ResourceRequirements {
	if mi := sc.Spec.Redis.ManagedInstance; mi != nil && mi.Resources != nil {
		return *mi.Resources.DeepCopy()
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
}

// desiredRedisDataClaim is the PVC of the append-only file (nil without persistence).
func desiredRedisDataClaim(sc *v1alpha1.SignalingCluster) *corev1.PersistentVolumeClaim {
	mi := sc.Spec.Redis.ManagedInstance
	if !sc.Spec.Redis.Managed || mi == nil || mi.Persistence == nil {
		return nil
	}
	size := resource.MustParse("1Gi")
	if mi.Persistence.Size != nil {
		size = *mi.Persistence.Size
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: objectMeta(sc, redisDataName(sc), componentRedis),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: mi.Persistence.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// desiredRedisDeployment is the managed Redis (nil unless spec.redis.managed). configHashValue
// covers the password, so a rotation restarts Redis with the new one.
func desiredRedisDeployment(sc *v1alpha1.SignalingCluster, opts Options, configHashValue string) *appsv1.Deployment {
	if !sc.Spec.Redis.Managed {
		return nil
	}
	data := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if claim := desiredRedisDataClaim(sc); claim != nil {
		data = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name}}
	}
	tcpProbe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("redis")}},
			PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: failures,
		}
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      selectorLabels(sc, componentRedis),
			Annotations: map[string]string{AnnotationConfigHash: configHashValue},
		},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](redisUID),
				RunAsGroup:     ptr.To[int64](redisUID),
				FSGroup:        ptr.To[int64](redisUID),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName:  redisAuthName(sc),
					Items:       []corev1.KeyToPath{{Key: redisAuthConfigKey, Path: redisAuthConfigKey}},
					DefaultMode: ptr.To[int32](0o440),
				}}},
				{Name: "data", VolumeSource: data},
			},
			Containers: []corev1.Container{{
				Name:  "redis",
				Image: opts.RedisImage,
				Args:  []string{redisConfigDir + "/" + redisAuthConfigKey},
				Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: redisPort, Protocol: corev1.ProtocolTCP}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: redisConfigDir, ReadOnly: true},
					{Name: "data", MountPath: redisDataDir},
				},
				Resources:      managedRedisResources(sc),
				ReadinessProbe: tcpProbe(5, 3),
				LivenessProbe:  tcpProbe(10, 6),
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					RunAsNonRoot:             ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	template.Annotations[AnnotationTemplateHash] = hashObject(template)
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(sc, redisName(sc), componentRedis),
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To[int32](1),
			Selector:                &metav1.LabelSelector{MatchLabels: selectorLabels(sc, componentRedis)},
			Template:                template,
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			// One writer on a ReadWriteOnce volume: the old pod goes before the new one starts.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
		},
	}
}

// reconcileRedisDataClaim creates the append-only file's claim (its spec is immutable apart
// from growing) or removes it when persistence is switched off.
func (r *SignalingClusterReconciler) reconcileRedisDataClaim(ctx context.Context, s *scope) error {
	desired := desiredRedisDataClaim(s.sc)
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: redisDataName(s.sc), Namespace: s.sc.Namespace}}
	if desired == nil {
		return r.deleteOwned(ctx, s, pvc)
	}
	return r.apply(ctx, s, pvc, func() {
		pvc.Labels = mergeStringMaps(pvc.Labels, desired.Labels)
		want := desired.Spec.Resources.Requests[corev1.ResourceStorage]
		if pvc.CreationTimestamp.IsZero() {
			pvc.Spec = desired.Spec
			return
		}
		if have := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; want.Cmp(have) > 0 {
			pvc.Spec.Resources.Requests[corev1.ResourceStorage] = want
		}
	})
}
