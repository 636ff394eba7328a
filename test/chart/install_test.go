//go:build chart

package chart

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

const (
	crdName = "signalingclusters.signaling.switchboard.dev"
	// upgradeField is the spec field the upgrade test adds to a copy of the chart's CRD.
	upgradeField = "chartUpgradeProbe"
)

var signalingClusterGVK = schema.GroupVersionKind{Group: "signaling.switchboard.dev", Version: "v1alpha1", Kind: "SignalingCluster"}

// TestHelmInstallUpgradeUninstall drives bin/helm against a real kube-apiserver + etcd (envtest):
// install (CRD established, RBAC, Deployment, a SignalingCluster accepted), a namespace-scoped
// second release in a namespace that enforces the restricted Pod Security Standard, `helm upgrade` to a chart whose CRD gained a field (Helm leaves the CRD alone;
// the documented `helm show crds | kubectl apply --server-side` step upgrades it), and uninstall
// (the operator's objects go, the CRD and users' SignalingClusters stay).
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	cfg := startAPIServer(t)
	kc := writeKubeconfig(t, cfg.user)
	k := newKube(t, cfg.rest)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chart := chartDir(t)
	keyFile := writePublicKey(t)
	installArgs := []string{"--namespace", releaseNamespace, "--kubeconfig", kc,
		"--set", "signalingCluster.enabled=true", "--set-file", "signalingCluster.jwtPublicKey=" + keyFile}

	// --- install: the CRD from crds/ and a SignalingCluster in the same release, in one step.
	out := mustHelm(t, append([]string{"install", releaseName, chart, "--create-namespace"}, installArgs...)...)
	t.Logf("helm install:\n%s", out)
	if !strings.Contains(out, `A SignalingCluster "sb" was created`) {
		t.Errorf("NOTES do not mention the SignalingCluster created with the release:\n%s", out)
	}

	crd := &apiextensionsv1.CustomResourceDefinition{}
	k.mustGet(ctx, client.ObjectKey{Name: crdName}, crd)
	if !crdEstablished(crd) {
		t.Fatalf("CRD %s is not Established: %+v", crdName, crd.Status.Conditions)
	}

	operator := releaseName + "-switchboard-operator"
	root := repoRoot(t)
	wantRules := rulesOf(t, readFile(t, filepath.Join(root, "config", "rbac", "role.yaml")))
	role := &rbacv1.ClusterRole{}
	k.mustGet(ctx, client.ObjectKey{Name: operator + "-manager"}, role)
	if !reflect.DeepEqual(role.Rules, wantRules) {
		t.Errorf("installed ClusterRole rules differ from config/rbac/role.yaml:\n got %+v\nwant %+v", role.Rules, wantRules)
	}
	k.mustGet(ctx, client.ObjectKey{Name: operator + "-manager"}, &rbacv1.ClusterRoleBinding{})
	viewer := &rbacv1.ClusterRole{}
	k.mustGet(ctx, client.ObjectKey{Name: operator + "-signalingcluster-viewer"}, viewer)
	if viewer.Labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
		t.Errorf("the viewer ClusterRole does not aggregate to view: labels %v", viewer.Labels)
	}
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator + "-leader-election"}, &rbacv1.Role{})
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator + "-leader-election"}, &rbacv1.RoleBinding{})
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator}, &corev1.ServiceAccount{})
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator + "-metrics"}, &corev1.Service{})
	dep := &appsv1.Deployment{}
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator}, dep)
	if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != operator {
		t.Errorf("Deployment serviceAccountName = %q, want %q", sa, operator)
	}
	if args := strings.Join(dep.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--leader-elect=true") ||
		strings.Contains(args, "--namespace=") {
		t.Errorf("cluster-scoped operator args = %s, want --leader-elect=true and no --namespace", args)
	}

	released := k.getSignalingCluster(ctx, releaseNamespace, releaseName)
	if ref, _, _ := unstructured.NestedStringMap(released.Object, "spec", "auth", "publicKeySecretRef"); ref["name"] != releaseName+"-jwt" {
		t.Errorf("release SignalingCluster auth.publicKeySecretRef = %v", ref)
	}
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: releaseName + "-jwt"}, &corev1.Secret{})

	// Users' SignalingClusters, the samples from config/samples, are accepted ...
	sample := loadSample(t, filepath.Join(root, "config", "samples", "signaling_v1alpha1_signalingcluster_minimal.yaml"))
	sample.SetNamespace("default")
	if err := k.Create(ctx, sample); err != nil {
		t.Fatalf("the minimal sample SignalingCluster was rejected: %v", err)
	}
	full := loadSample(t, filepath.Join(root, "config", "samples", "signaling_v1alpha1_signalingcluster_full.yaml"))
	full.SetNamespace("default")
	if err := k.Create(ctx, full); err != nil {
		t.Fatalf("the full sample SignalingCluster was rejected: %v", err)
	}
	// ... and the CRD's validation is live: Redis must be managed or have addresses, not both.
	invalid := loadSample(t, filepath.Join(root, "config", "samples", "signaling_v1alpha1_signalingcluster_minimal.yaml"))
	invalid.SetNamespace("default")
	invalid.SetName("invalid")
	if err := unstructured.SetNestedField(invalid.Object, true, "spec", "redis", "managed"); err != nil {
		t.Fatal(err)
	}
	if err := k.Create(ctx, invalid); err == nil || !strings.Contains(err.Error(), "set exactly one of managed: true or addresses") {
		t.Errorf("an invalid SignalingCluster: err = %v, want the CRD's validation message", err)
	}

	t.Run("namespace-scoped release", func(t *testing.T) {
		// The namespace enforces the restricted Pod Security Standard; the API server warns about
		// (and would refuse pods of) a Deployment that breaks it.
		const ns = "team-a"
		restricted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}}}
		if err := k.Create(ctx, restricted); err != nil {
			t.Fatal(err)
		}
		r := helm(t, "install", "team-a", chart, "--namespace", ns, "--kubeconfig", kc, "--set", "scope.mode=namespace")
		if r.err != nil {
			t.Fatalf("helm install (namespace scope): %v\n%s", r.err, r)
		}
		if strings.Contains(r.stderr, "PodSecurity") {
			t.Errorf("the operator Deployment violates the restricted Pod Security Standard:\n%s", r.stderr)
		}
		name := "team-a-switchboard-operator"
		nsRole := &rbacv1.Role{}
		k.mustGet(ctx, client.ObjectKey{Namespace: ns, Name: name + "-manager"}, nsRole)
		if !reflect.DeepEqual(nsRole.Rules, wantRules) {
			t.Errorf("namespaced Role rules differ from config/rbac/role.yaml")
		}
		if err := k.Get(ctx, client.ObjectKey{Name: name + "-manager"}, &rbacv1.ClusterRole{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace scope created a ClusterRole (err = %v)", err)
		}
		d := &appsv1.Deployment{}
		k.mustGet(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)
		if args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--namespace="+ns) {
			t.Errorf("namespace-scoped operator args = %s, want --namespace=%s", args, ns)
		}
		mustHelm(t, "uninstall", "team-a", "--namespace", ns, "--kubeconfig", kc)
		if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-manager"}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
			t.Errorf("the namespaced Role survived helm uninstall (err = %v)", err)
		}
	})

	// --- upgrade to a chart whose CRD has a new spec field.
	newChart := chartWithChangedCRD(t, chart)
	before := k.createProbeCluster(ctx, "before-upgrade")
	if _, found, _ := unstructured.NestedString(before.Object, "spec", upgradeField); found {
		t.Fatalf("spec.%s survived before the CRD knows it: the test's premise (pruning) is wrong", upgradeField)
	}

	out = mustHelm(t, append([]string{"upgrade", releaseName, newChart}, installArgs...)...)
	if !strings.Contains(out, "REVISION: 2") {
		t.Errorf("helm upgrade did not report revision 2:\n%s", out)
	}
	k.mustGet(ctx, client.ObjectKey{Name: crdName}, crd)
	if crdHasSpecField(crd, upgradeField) {
		t.Fatal("helm upgrade changed the CRD: the documented behaviour (crds/ is never upgraded) no longer holds; update docs/helm.md")
	}
	// The templates were upgraded: the Deployment carries the new chart version.
	k.mustGet(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: operator}, dep)
	if got := dep.Labels["helm.sh/chart"]; !strings.HasPrefix(got, "switchboard-99.") {
		t.Errorf("after helm upgrade the Deployment's helm.sh/chart label = %q, want the new chart version", got)
	}

	// The documented upgrade step: helm show crds <chart> | kubectl apply --server-side --force-conflicts -f -
	for _, doc := range splitDocs(mustHelm(t, "show", "crds", newChart)) {
		serverSideApply(t, ctx, cfg.rest, doc)
	}
	k.mustGet(ctx, client.ObjectKey{Name: crdName}, crd)
	if !crdHasSpecField(crd, upgradeField) {
		t.Fatalf("after the documented CRD step the CRD still lacks spec.%s", upgradeField)
	}
	waitFor(t, 30*time.Second, "a SignalingCluster to keep the new field", func(attempt int) bool {
		sc := k.createProbeCluster(ctx, "after-upgrade-"+strconv.Itoa(attempt))
		_, found, _ := unstructured.NestedString(sc.Object, "spec", upgradeField)
		return found
	})

	// --- uninstall: the release's objects go; the CRD and users' SignalingClusters stay.
	mustHelm(t, "uninstall", releaseName, "--namespace", releaseNamespace, "--kubeconfig", kc)
	gone := []struct {
		key client.ObjectKey
		obj client.Object
	}{
		{client.ObjectKey{Namespace: releaseNamespace, Name: operator}, &appsv1.Deployment{}},
		{client.ObjectKey{Namespace: releaseNamespace, Name: operator}, &corev1.ServiceAccount{}},
		{client.ObjectKey{Name: operator + "-manager"}, &rbacv1.ClusterRole{}},
		{client.ObjectKey{Name: operator + "-manager"}, &rbacv1.ClusterRoleBinding{}},
		{client.ObjectKey{Name: operator + "-signalingcluster-viewer"}, &rbacv1.ClusterRole{}},
		{client.ObjectKey{Namespace: releaseNamespace, Name: operator + "-leader-election"}, &rbacv1.Role{}},
		{client.ObjectKey{Namespace: releaseNamespace, Name: operator + "-metrics"}, &corev1.Service{}},
		{client.ObjectKey{Namespace: releaseNamespace, Name: releaseName + "-jwt"}, &corev1.Secret{}},
	}
	for _, g := range gone {
		if err := k.Get(ctx, g.key, g.obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s survived helm uninstall (err = %v)", g.obj, g.key, err)
		}
	}
	releaseSC := &unstructured.Unstructured{}
	releaseSC.SetGroupVersionKind(signalingClusterGVK)
	if err := k.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: releaseName}, releaseSC); !apierrors.IsNotFound(err) {
		t.Errorf("the release's SignalingCluster survived helm uninstall (err = %v)", err)
	}
	k.mustGet(ctx, client.ObjectKey{Name: crdName}, crd)
	if !crdEstablished(crd) || crd.DeletionTimestamp != nil {
		t.Errorf("the CRD did not survive helm uninstall intact: deletion=%v conditions=%+v", crd.DeletionTimestamp, crd.Status.Conditions)
	}
	k.getSignalingCluster(ctx, "default", sample.GetName())
}

type apiServer struct {
	rest *rest.Config
	user *envtest.AuthenticatedUser
}

// startAPIServer starts kube-apiserver + etcd from KUBEBUILDER_ASSETS (default bin/envtest); a
// missing binary fails the test.
func startAPIServer(t *testing.T) apiServer {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("bin", "envtest")
	}
	if !filepath.IsAbs(assets) { // relative to the repository root
		assets = filepath.Join(repoRoot(t), assets)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Fatalf("envtest binary missing (build it with `make envtest-bins`, or run `make test-chart`): %v", err)
		}
	}
	t.Setenv("KUBEBUILDER_ASSETS", assets) // envtest prefers the variable to BinaryAssetsDirectory
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	user, err := env.AddUser(envtest.User{Name: "chart-test", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("adding the helm user: %v", err)
	}
	return apiServer{rest: cfg, user: user}
}

func writeKubeconfig(t *testing.T, user *envtest.AuthenticatedUser) string {
	t.Helper()
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writePublicKey writes a fresh RSA public key (PEM) for signalingCluster.jwtPublicKey.
func writePublicKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kube is a client for the envtest API server.
type kube struct {
	client.Client
	t *testing.T
}

func newKube(t *testing.T, cfg *rest.Config) kube {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return kube{Client: c, t: t}
}

func (k kube) mustGet(ctx context.Context, key client.ObjectKey, obj client.Object) {
	k.t.Helper()
	if err := k.Get(ctx, key, obj); err != nil {
		k.t.Fatalf("get %T %s: %v", obj, key, err)
	}
}

func (k kube) getSignalingCluster(ctx context.Context, namespace, name string) *unstructured.Unstructured {
	k.t.Helper()
	sc := &unstructured.Unstructured{}
	sc.SetGroupVersionKind(signalingClusterGVK)
	k.mustGet(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sc)
	return sc
}

// createProbeCluster creates a SignalingCluster that sets spec.chartUpgradeProbe and returns it as
// stored: the field is pruned unless the CRD declares it.
func (k kube) createProbeCluster(ctx context.Context, name string) *unstructured.Unstructured {
	k.t.Helper()
	sc := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"redis":      map[string]any{"managed": true},
			"auth":       map[string]any{"jwksURL": "https://auth.example.com/jwks.json"},
			upgradeField: "set",
		},
	}}
	sc.SetGroupVersionKind(signalingClusterGVK)
	sc.SetNamespace("default")
	sc.SetName(name)
	if err := k.Create(ctx, sc); err != nil {
		k.t.Fatalf("creating SignalingCluster %s: %v", name, err)
	}
	return k.getSignalingCluster(ctx, "default", name)
}

func loadSample(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(readFile(t, path), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// chartWithChangedCRD copies the chart into a temp dir, adds spec.chartUpgradeProbe to its CRD
// and bumps the chart version: a stand-in for the next release of the chart.
func chartWithChangedCRD(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "switchboard")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	crdFiles, _ := filepath.Glob(filepath.Join(dst, "crds", "*.yaml"))
	if len(crdFiles) != 1 {
		t.Fatalf("want one CRD file in the chart, found %v", crdFiles)
	}
	// Edit the manifest as a map, so that the copy differs from the original only in the new field.
	var crd map[string]any
	if err := yaml.Unmarshal(readFile(t, crdFiles[0]), &crd); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
	if len(versions) == 0 {
		t.Fatal("the chart's CRD has no versions")
	}
	for i := range versions {
		v := versions[i].(map[string]any)
		field := map[string]any{"type": "string", "description": "Added by the chart upgrade test."}
		if err := unstructured.SetNestedField(v, field, "schema", "openAPIV3Schema", "properties", "spec", "properties", upgradeField); err != nil {
			t.Fatal(err)
		}
	}
	if err := unstructured.SetNestedSlice(crd, versions, "spec", "versions"); err != nil {
		t.Fatal(err)
	}
	changed, err := yaml.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crdFiles[0], changed, 0o644); err != nil {
		t.Fatal(err)
	}
	chartYAML := filepath.Join(dst, "Chart.yaml")
	var meta map[string]any
	if err := yaml.Unmarshal(readFile(t, chartYAML), &meta); err != nil {
		t.Fatal(err)
	}
	meta["version"] = "99.0.0"
	if err := os.WriteFile(chartYAML, toYAML(t, meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func crdHasSpecField(crd *apiextensionsv1.CustomResourceDefinition, field string) bool {
	for _, v := range crd.Spec.Versions {
		if _, ok := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties[field]; !ok {
			return false
		}
	}
	return len(crd.Spec.Versions) > 0
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// serverSideApply applies one manifest the way `kubectl apply --server-side --force-conflicts` does.
func serverSideApply(t *testing.T, ctx context.Context, cfg *rest.Config, manifest string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	if u.GetKind() != "CustomResourceDefinition" {
		t.Fatalf("helm show crds printed a %s", u.GetKind())
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gvr := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	if _, err := dyn.Resource(gvr).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
		t.Fatalf("server-side apply of CRD %s: %v", u.GetName(), err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func(attempt int) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		if cond(attempt) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
