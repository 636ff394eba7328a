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
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

const (
	testLeaseDuration = 4 * time.Second
	testRenewDeadline = 3 * time.Second
	testRetryPeriod   = 500 * time.Millisecond
)

// electedManager is a manager with leader election on, as cmd/manager runs it, except that
// cancelling it does not release the Lease: it stands in for a killed process.
type electedManager struct {
	mgr      ctrl.Manager
	cancel   context.CancelFunc
	done     chan error
	killOnce sync.Once
}

func startElectedManager(t *testing.T, ns, leaseName string, workers int) *electedManager {
	t.Helper()
	mo := ManagerOptions(ManagerConfig{Namespace: ns, MetricsAddr: "0", ProbeAddr: "0",
		LeaderElect: true, LeaderElectionID: leaseName, LeaderElectionNamespace: ns})
	mo.Controller.SkipNameValidation = ptr.To(true)
	mo.LeaderElectionReleaseOnCancel = false
	mo.LeaseDuration, mo.RenewDeadline, mo.RetryPeriod = ptr.To(testLeaseDuration), ptr.To(testRenewDeadline), ptr.To(testRetryPeriod)
	mgr, err := ctrl.NewManager(testCfg, mo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SetupWithManager(mgr, SetupConfig{Options: testOptions, Monitor: NewMonitor(testProbePolicy), MaxConcurrentReconciles: workers}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	em := &electedManager{mgr: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { em.done <- mgr.Start(ctx) }()
	t.Cleanup(em.kill)
	return em
}

// kill stops the manager without releasing its Lease. A test kills its leader itself and
// the cleanup kills whatever is left: a second kill must not wait for a second exit.
func (em *electedManager) kill() {
	em.killOnce.Do(func() {
		em.cancel()
		<-em.done
	})
}

func (em *electedManager) elected() bool {
	select {
	case <-em.mgr.Elected():
		return true
	default:
		return false
	}
}

// Two managers share one API server; the leader is killed while it works through 100
// SignalingClusters. The other one takes over once the Lease expires and finishes the job:
// exactly one of each object per cluster, and no Deployment written twice (generation 1: no
// rollout caused by the hand-over).
func TestLeaderFailoverMidReconcileConvergesWithoutDuplicatesOrRollouts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, redisAddr := newWiredNamespace(t, "pw")
	const clusters = 100
	for i := 0; i < clusters; i++ {
		if err := testClient.Create(ctx, newCluster(ns, fmt.Sprintf("sig-%03d", i), redisAddr, "")); err != nil {
			t.Fatal(err)
		}
	}
	countDeployments := func() (int, error) {
		var list appsv1.DeploymentList
		err := testClient.List(ctx, &list, client.InNamespace(ns))
		return len(list.Items), err
	}

	lease := "switchboard-" + ns
	a := startElectedManager(t, ns, lease, 1) // one worker: slow enough to be caught mid-way
	eventually(t, 30*time.Second, "manager A to lead", func() error {
		if !a.elected() {
			return fmt.Errorf("not elected")
		}
		return nil
	})
	b := startElectedManager(t, ns, lease, 4)
	eventually(t, 60*time.Second, "manager A to have reconciled some clusters", func() error {
		n, err := countDeployments()
		if err == nil && n < 10 {
			err = fmt.Errorf("%d Deployments", n)
		}
		return err
	})
	if b.elected() {
		t.Fatal("manager B leads while A holds the Lease")
	}
	a.kill()
	killedAt := time.Now()
	atKill, _ := countDeployments()

	eventually(t, 60*time.Second, "manager B to take over", func() error {
		if !b.elected() {
			return fmt.Errorf("not elected")
		}
		return nil
	})
	t.Logf("A killed with %d of %d Deployments created; B leads %s later (lease duration %s)",
		atKill, clusters, time.Since(killedAt).Round(100*time.Millisecond), testLeaseDuration)
	l := &coordinationv1.Lease{}
	if err := testClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: lease}, l); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(l.Spec.LeaseTransitions, 0) < 1 {
		t.Errorf("lease transitions %d, want a hand-over", ptr.Deref(l.Spec.LeaseTransitions, 0))
	}

	eventually(t, 120*time.Second, "every cluster to converge", func() error {
		var scs v1alpha1.SignalingClusterList
		if err := testClient.List(ctx, &scs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, sc := range scs.Items {
			if sc.Status.ObservedGeneration != sc.Generation {
				return fmt.Errorf("%s: observedGeneration %d of %d", sc.Name, sc.Status.ObservedGeneration, sc.Generation)
			}
			if err := conditionIs(&sc, v1alpha1.ConditionRedisReady, "True", v1alpha1.ReasonRedisPingSucceeded); err != nil {
				return fmt.Errorf("%s: %w", sc.Name, err)
			}
		}
		n, err := countDeployments()
		if err == nil && n != clusters {
			err = fmt.Errorf("%d Deployments", n)
		}
		return err
	})

	var deps appsv1.DeploymentList
	var svcs corev1.ServiceList
	var cms corev1.ConfigMapList
	managed := client.MatchingLabels{labelManagedBy: ManagedByValue}
	if err := errorsJoin(testClient.List(ctx, &deps, client.InNamespace(ns)), testClient.List(ctx, &svcs, client.InNamespace(ns)),
		testClient.List(ctx, &cms, client.InNamespace(ns), managed)); err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != clusters || len(svcs.Items) != clusters || len(cms.Items) != clusters {
		t.Errorf("objects: %d Deployments, %d Services, %d ConfigMaps; want %d of each", len(deps.Items), len(svcs.Items), len(cms.Items), clusters)
	}
	for _, d := range deps.Items {
		if d.Generation != 1 {
			t.Errorf("Deployment %s at generation %d: its spec was rewritten (a rollout) after the hand-over", d.Name, d.Generation)
		}
		if len(d.OwnerReferences) != 1 {
			t.Errorf("Deployment %s has %d owner references", d.Name, len(d.OwnerReferences))
		}
	}
}
