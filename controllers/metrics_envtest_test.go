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
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"
)

// The operator's metrics answer only callers whose token may GET /metrics (the shipped
// metrics-reader ClusterRole), over HTTPS, and never negotiate HTTP/2 by default.
func TestMetricsEndpointAuthenticatesAndAuthorizes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mo := ManagerOptions(ManagerConfig{Namespace: ns, MetricsAddr: addr, ProbeAddr: "0", MetricsSecure: true})
	mo.Controller.SkipNameValidation = ptr.To(true)
	mgr, err := ctrl.NewManager(testCfg, mo)
	if err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The reader role exactly as shipped in config/rbac.
	raw, err := os.ReadFile(filepath.Join("..", "config", "rbac", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	role.Name = "metrics-reader-" + ns
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(testClient.Create(ctx, role))
	for _, sa := range []string{"prometheus", "nosy"} {
		must(testClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}}))
	}
	must(testClient.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}},
	}))
	cs, err := kubernetes.NewForConfig(testCfg)
	must(err)
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		must(err)
		return tr.Status.Token
	}

	// A client that would use HTTP/2 if the server offered it; the certificate is self-signed.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}, //nolint:gosec // self-signed test server
		ForceAttemptHTTP2: true,
	}}
	get := func(bearer string) (int, string, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Proto, string(body), nil
	}
	eventually(t, 30*time.Second, "the metrics endpoint", func() error {
		_, _, _, err := get("")
		return err
	})
	if code, _, _, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", code)
	}
	if code, _, _, _ := get(token("nosy")); code != http.StatusForbidden {
		t.Errorf("token without the reader role: status %d, want 403", code)
	}
	var code int
	var proto, body string
	eventually(t, 30*time.Second, "the reader to be allowed", func() (err error) {
		code, proto, body, err = get(token("prometheus"))
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	if !strings.Contains(body, "controller_runtime_") {
		t.Errorf("metrics body lacks controller-runtime metrics:\n%.300s", body)
	}
	if proto != "HTTP/1.1" {
		t.Errorf("protocol %s, want HTTP/1.1 (HTTP/2 is off by default)", proto)
	}
}
