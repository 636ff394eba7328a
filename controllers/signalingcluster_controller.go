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

// Package controllers reconciles SignalingClusters into the signaling tier's Kubernetes objects
// and runs the media-service health gate.
package controllers

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// secretRefIndex indexes SignalingClusters by the names of the Secrets they reference.
const secretRefIndex = "spec.secretRefs.name"

// FieldManager is the field manager of every write the operator makes.
const FieldManager = "switchboard-operator"

// SignalingClusterReconciler reconciles a SignalingCluster.
type SignalingClusterReconciler struct {
	client.Client
	// APIReader reads past the cache; it only ever fetches Secret metadata (secrets.go).
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  recorder.EventRecorder
	Monitor   *Monitor
	Options   Options
	// Metrics are the per-cluster gauges (nil: not recorded).
	Metrics *ClusterMetrics
	// Now is the clock of status timestamps.
	Now func() time.Time
}

// scope is what one reconcile works on.
type scope struct {
	sc             *v1alpha1.SignalingCluster
	key            types.NamespacedName
	secretValues   map[string][]byte
	missingSecrets []string
	// unlabelledSecrets are referenced "secret/key"s whose Secret lacks the opt-in label.
	unlabelledSecrets  []string
	passwordUnlabelled bool
	// imageRefused says why spec.image was refused (imagepolicy.go); empty when allowed.
	imageRefused  string
	redisPassword string
	passwordOK    bool

	deployment      *appsv1.Deployment
	redisDeployment *appsv1.Deployment
}

// +kubebuilder:rbac:groups=signaling.switchboard.dev,resources=signalingclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=signaling.switchboard.dev,resources=signalingclusters/status,verbs=get;patch
// +kubebuilder:rbac:groups=signaling.switchboard.dev,resources=signalingclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps,verbs=get;list;watch;create;patch;delete
// Secrets: the cache holds only those labelled signaling.switchboard.dev/use=true (secrets.go).
// It creates and patches only the managed Redis' own Secret (redis_managed.go).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete

// Reconcile applies the owned objects and writes the status once, at the end.
func (r *SignalingClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	sc := &v1alpha1.SignalingCluster{}
	if err := r.Get(ctx, req.NamespacedName, sc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Monitor.Forget(req.NamespacedName)
			r.Metrics.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !sc.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove the children.
		r.Monitor.Forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	s := &scope{sc: sc, key: req.NamespacedName}
	defer func() {
		if err := r.updateStatus(ctx, s, retErr); err != nil {
			if apierrors.IsNotFound(err) {
				return
			}
			log.Error(err, "updating status")
			if retErr == nil {
				retErr = err
			}
		}
	}()

	if err := r.loadSecrets(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	r.Monitor.Ensure(s.key, monitorConfig(s), sc.Status.MediaService)

	var errs []error
	for _, step := range []func(context.Context, *scope) error{
		r.checkImagePolicy,
		r.reconcileManagedRedis,
		r.reconcileConfigMap,
		r.reconcileDeployment,
		r.reconcileService,
		r.reconcilePodDisruptionBudget,
		r.reconcileHPA,
		r.reconcileNetworkPolicies,
	} {
		if err := step(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// loadSecrets reads the referenced Secret keys (missing ones are recorded, not fatal: the
// status says which, and a Secret watch retries when it appears).
func (r *SignalingClusterReconciler) loadSecrets(ctx context.Context, s *scope) error {
	s.secretValues = map[string][]byte{}
	s.passwordOK = true
	for _, ref := range secretRefs(s.sc) {
		id := ref.Name + "/" + ref.Key
		secret, access, err := r.readSecret(ctx, s.sc.Namespace, ref.Name)
		if err != nil {
			return err
		}
		isPassword := ref == s.sc.Spec.Redis.PasswordSecretRef
		if access == secretNotLabelled {
			s.unlabelledSecrets = append(s.unlabelledSecrets, id)
			s.passwordOK = s.passwordOK && !isPassword
			s.passwordUnlabelled = s.passwordUnlabelled || isPassword
			continue
		}
		var v []byte
		ok := false
		if secret != nil {
			v, ok = secret.Data[ref.Key]
		}
		if !ok {
			s.missingSecrets = append(s.missingSecrets, id)
			if isPassword {
				s.passwordOK = false
			}
			continue
		}
		s.secretValues[id] = v
		if ref == s.sc.Spec.Redis.PasswordSecretRef {
			s.redisPassword = string(v)
		}
	}
	return r.ensureManagedRedisAuth(ctx, s)
}

// monitorConfig is the health monitor's configuration for the scope's cluster.
func monitorConfig(s *scope) MonitorConfig {
	spec := s.sc.Spec
	cfg := MonitorConfig{Interval: v1alpha1.DefaultHealthCheckInterval}
	if s.passwordOK {
		cfg.Redis = &RedisConfig{
			Mode:       redisconn.Mode(redisMode(s.sc)), // the same words as v1alpha1.RedisMode
			Addrs:      redisAddresses(s.sc),
			MasterName: spec.Redis.MasterName,
			Username:   spec.Redis.Username,
			Password:   s.redisPassword,
			TLS:        spec.Redis.TLS,
		}
	}
	if ms := spec.MediaService; ms != nil {
		hc := ms.HealthCheck
		p := hc.Path
		if p == "" {
			p = v1alpha1.DefaultHealthCheckPath
		}
		cfg.Interval = durationOr(hc.Interval, v1alpha1.DefaultHealthCheckInterval)
		cfg.Media = &MediaCheckConfig{
			URL:              trimSlash(ms.URL) + p,
			Timeout:          min(durationOr(hc.Timeout, v1alpha1.DefaultHealthCheckTimeout), cfg.Interval),
			FailureThreshold: max(hc.FailureThreshold, 1),
			SuccessThreshold: max(hc.SuccessThreshold, 1),
		}
		if hc.FailureThreshold == 0 {
			cfg.Media.FailureThreshold = v1alpha1.DefaultHealthFailureThreshold
		}
	}
	return cfg
}

func trimSlash(u string) string {
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

func (r *SignalingClusterReconciler) reconcileConfigMap(ctx context.Context, s *scope) error {
	desired := desiredConfigMap(s.sc)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	return r.apply(ctx, s, cm, func() {
		cm.Labels = mergeStringMaps(cm.Labels, desired.Labels)
		cm.Data = desired.Data
	})
}

func (r *SignalingClusterReconciler) reconcileDeployment(ctx context.Context, s *scope) error {
	if s.imageRefused != "" {
		return nil
	}
	cfgHash := configHash(desiredConfigData(s.sc), s.secretValues)
	desired := desiredDeployment(s.sc, r.Options, cfgHash)
	var createReplicas *int32
	if a := s.sc.Spec.Autoscaling; a != nil {
		createReplicas = ptr.To(ptr.Deref(a.MinReplicas, v1alpha1.DefaultReplicas))
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	if err := r.apply(ctx, s, d, func() { mutateDeployment(d, desired, createReplicas) }); err != nil {
		return err
	}
	s.deployment = d
	return nil
}

// annotationOwnedServiceAnnotations lists the Service annotation keys that came from
// spec.service.annotations, so that a key removed from the spec is removed from the Service
// while annotations added by others (cloud controllers) stay.
const annotationOwnedServiceAnnotations = "signaling.switchboard.dev/owned-annotations"

func (r *SignalingClusterReconciler) reconcileService(ctx context.Context, s *scope) error {
	desired := desiredService(s.sc)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: desired.Name, Namespace: desired.Namespace}}
	return r.apply(ctx, s, svc, func() { mutateService(svc, desired) })
}

func (r *SignalingClusterReconciler) reconcilePodDisruptionBudget(ctx context.Context, s *scope) error {
	desired := desiredPodDisruptionBudget(s.sc)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: signalingName(s.sc), Namespace: s.sc.Namespace}}
	if desired == nil {
		return r.deleteOwned(ctx, s, pdb)
	}
	return r.apply(ctx, s, pdb, func() {
		pdb.Labels = mergeStringMaps(pdb.Labels, desired.Labels)
		pdb.Spec.MaxUnavailable = desired.Spec.MaxUnavailable
		pdb.Spec.MinAvailable = nil
		pdb.Spec.Selector = desired.Spec.Selector
	})
}

func (r *SignalingClusterReconciler) reconcileHPA(ctx context.Context, s *scope) error {
	desired := desiredHPA(s.sc)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: signalingName(s.sc), Namespace: s.sc.Namespace}}
	if desired == nil {
		return r.deleteOwned(ctx, s, hpa)
	}
	return r.apply(ctx, s, hpa, func() {
		hpa.Labels = mergeStringMaps(hpa.Labels, desired.Labels)
		hpa.Spec.ScaleTargetRef = desired.Spec.ScaleTargetRef
		hpa.Spec.MinReplicas = desired.Spec.MinReplicas
		hpa.Spec.MaxReplicas = desired.Spec.MaxReplicas
		hpa.Spec.Metrics = desired.Spec.Metrics
	})
}

func (r *SignalingClusterReconciler) reconcileManagedRedis(ctx context.Context, s *scope) error {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: redisName(s.sc), Namespace: s.sc.Namespace}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: redisName(s.sc), Namespace: s.sc.Namespace}}
	auth := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: redisAuthName(s.sc), Namespace: s.sc.Namespace}}
	if !s.sc.Spec.Redis.Managed {
		return errors.Join(r.deleteOwned(ctx, s, dep), r.deleteOwned(ctx, s, svc), r.deleteOwned(ctx, s, auth),
			r.reconcileRedisDataClaim(ctx, s))
	}
	if err := r.reconcileRedisDataClaim(ctx, s); err != nil {
		return err
	}
	pw := map[string][]byte{redisAuthName(s.sc): []byte(s.redisPassword)}
	desiredDep := desiredRedisDeployment(s.sc, r.Options, configHash(nil, pw))
	if err := r.apply(ctx, s, dep, func() { mutateDeployment(dep, desiredDep, nil) }); err != nil {
		return err
	}
	s.redisDeployment = dep
	desiredSvc := desiredRedisService(s.sc)
	return r.apply(ctx, s, svc, func() { mutateService(svc, desiredSvc) })
}

// indexSecretRefs returns the names of the Secrets a SignalingCluster references.
func indexSecretRefs(obj client.Object) []string {
	sc, ok := obj.(*v1alpha1.SignalingCluster)
	if !ok {
		return nil
	}
	var names []string
	for _, ref := range secretRefs(sc) {
		names = append(names, ref.Name)
	}
	return names
}

// requestsForSecret maps a Secret to the SignalingClusters referencing it.
func (r *SignalingClusterReconciler) requestsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.SignalingClusterList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{secretRefIndex: obj.GetName()}); err != nil {
		logf.FromContext(ctx).Error(err, "listing SignalingClusters for Secret", "secret", obj.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, sc := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&sc)})
	}
	return reqs
}

// SetupConfig configures SetupWithManager.
type SetupConfig struct {
	Options                 Options
	MaxConcurrentReconciles int
	// Monitor defaults to NewMonitor(ProbePolicy).
	Monitor *Monitor
	// ProbePolicy restricts the addresses the media health probe dials.
	ProbePolicy ProbeAddressPolicy
	// Metrics are the per-cluster gauges; nil records none.
	Metrics *ClusterMetrics
}

// SetupWithManager registers the health monitor, the field index and the controller.
func SetupWithManager(mgr ctrl.Manager, cfg SetupConfig) (*SignalingClusterReconciler, error) {
	if cfg.Monitor == nil {
		cfg.Monitor = NewMonitor(cfg.ProbePolicy)
	}
	if cfg.MaxConcurrentReconciles <= 0 {
		cfg.MaxConcurrentReconciles = 4
	}
	if err := mgr.Add(cfg.Monitor); err != nil {
		return nil, err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.SignalingCluster{}, secretRefIndex, indexSecretRefs); err != nil {
		return nil, err
	}
	r := &SignalingClusterReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    mgr.GetScheme(),
		Recorder:  mgr.GetEventRecorder("signalingcluster-controller"),
		Monitor:   cfg.Monitor,
		Options:   cfg.Options,
		Metrics:   cfg.Metrics,
		Now:       time.Now,
	}
	err := ctrl.NewControllerManagedBy(mgr).
		// Annotations: the managed Redis' rotate-redis-password request.
		For(&v1alpha1.SignalingCluster{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.requestsForSecret)).
		WatchesRawSource(cfg.Monitor.Source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: cfg.MaxConcurrentReconciles}).
		Named("signalingcluster").
		Complete(r)
	if err != nil {
		return nil, err
	}
	return r, nil
}
