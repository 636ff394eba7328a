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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// The envtest suite runs a real kube-apiserver and etcd built by `make envtest-bins`. There is no
// kube-controller-manager: no Deployment controller, no garbage collector.

var (
	testCfg    *rest.Config
	testClient client.Client
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set; run `make test-operator` (it builds bin/envtest once)")
		return 1
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: envtest binary missing: %v; run `make envtest-bins`\n", err)
			return 1
		}
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: redis-server not found on PATH; the operator tests start their own")
		return 1
	}
	if os.Getenv("OPERATOR_TEST_LOG") != "" {
		logf.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		logf.SetLogger(zap.New(zap.WriteTo(discard{})))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: starting envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	cfg.QPS, cfg.Burst = 500, 1000
	testCfg = cfg
	testClient, err = client.New(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: client: %v\n", err)
		return 1
	}
	return m.Run()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// testManager is a running manager scoped to one namespace.
type testManager struct {
	Reconciler *SignalingClusterReconciler
	Monitor    *Monitor
	// Cache is the manager's informer cache (what the operator holds in memory).
	Cache cache.Cache
	stop  func()

	// objectWrites counts create/patch/delete calls on objects, statusWrites status
	// patches, as the API server saw them from this manager's client.
	objectWrites, statusWrites atomic.Int64
}

// Writes returns the number of writes the manager made to the API server.
func (tm *testManager) Writes() int64 { return tm.objectWrites.Load() + tm.statusWrites.Load() }

// WritesByKind returns the object and status writes separately.
func (tm *testManager) WritesByKind() (objects, status int64) {
	return tm.objectWrites.Load(), tm.statusWrites.Load()
}

// countWrites wraps the manager's client so that every write is counted (the reconciler
// itself keeps no test counters).
func (tm *testManager) countWrites(cfg *rest.Config, o client.Options) (client.Client, error) {
	c, err := client.NewWithWatch(cfg, o) // reads still come from the manager's cache
	if err != nil {
		return nil, err
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			tm.objectWrites.Add(1)
			return c.Create(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			tm.objectWrites.Add(1)
			return c.Patch(ctx, obj, p, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			tm.objectWrites.Add(1)
			return c.Update(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			tm.objectWrites.Add(1)
			return c.Delete(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			tm.statusWrites.Add(1)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	}), nil
}

// startManager runs the same wiring as cmd/manager, scoped to ns, with leader election off.
// tweaks adjust the health monitor before it starts (e.g. its Redis dialer).
func startManager(t testing.TB, ns string, opts Options, tweaks ...func(*Monitor)) *testManager {
	t.Helper()
	mo := ManagerOptions(ManagerConfig{Namespace: ns, MetricsAddr: "0", ProbeAddr: "0"})
	mo.Controller.SkipNameValidation = ptr.To(true)
	tm := &testManager{}
	mo.NewClient = tm.countWrites
	mgr, err := ctrl.NewManager(testCfg, mo)
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	mon := NewMonitor(testProbePolicy)
	for _, f := range tweaks {
		f(mon)
	}
	r, err := SetupWithManager(mgr, SetupConfig{Options: opts, Monitor: mon, MaxConcurrentReconciles: 4})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tm.Reconciler, tm.Monitor, tm.Cache = r, mon, mgr.GetCache()
	stopped := false
	tm.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop")
		}
	}
	t.Cleanup(tm.stop)
	return tm
}

// testProbePolicy lets the media probe reach the tests' loopback httptest servers.
var testProbePolicy = ProbeAddressPolicy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

var testOptions = Options{SignalingImage: "example.test/signaling:test", RedisImage: "example.test/redis:test"}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newNamespace creates a fresh namespace for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t-" + randSuffix()}}
	if err := testClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("namespace: %v", err)
	}
	return ns.Name
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis runs a private redis-server on a free loopback port (never the shared 6379).
func startRedis(t testing.TB, password string) string {
	t.Helper()
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
		if password != "" {
			args = append(args, "--requirepass", password)
		}
		cmd := exec.Command("redis-server", args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c := redis.NewClient(&redis.Options{Addr: addr, Password: password})
		ok := false
		for i := 0; i < 100; i++ {
			if c.Ping(context.Background()).Err() == nil {
				ok = true
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = c.Close()
		if ok {
			t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
			return addr
		}
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
	t.Fatal("redis-server did not start")
	return ""
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
}
