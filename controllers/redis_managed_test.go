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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	psapi "k8s.io/pod-security-admission/api"
	pspolicy "k8s.io/pod-security-admission/policy"

	"github.com/switchboard-rtc/switchboard/api/v1alpha1"
)

func managedCluster() *v1alpha1.SignalingCluster {
	sc := minimalCluster()
	sc.Spec.Redis = v1alpha1.RedisSpec{Managed: true}
	return sc
}

// assertRestricted runs the restricted Pod Security Standard (the admission plugin's own
// checks, latest version) on a pod template.
func assertRestricted(t *testing.T, what string, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	eval, err := pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := pspolicy.AggregateCheckResults(eval.EvaluatePod(
		psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &tmpl.ObjectMeta, &tmpl.Spec))
	if !res.Allowed {
		t.Errorf("%s violates the restricted Pod Security Standard: %s", what, res.ForbiddenDetail())
	}
}

func TestWorkloadsPassTheRestrictedPodSecurityStandard(t *testing.T) {
	sc := managedCluster()
	sc.Spec.Redis.ManagedInstance = &v1alpha1.ManagedRedisSpec{Persistence: &v1alpha1.ManagedRedisPersistence{}}
	assertRestricted(t, "managed Redis", desiredRedisDeployment(sc, testOptions, "h").Spec.Template)
	assertRestricted(t, "signaling", desiredDeployment(fullCluster(), testOptions, "h").Spec.Template)
}

func TestManagedRedisKeepsThePasswordOffTheCommandLine(t *testing.T) {
	sc := managedCluster()
	d := desiredRedisDeployment(sc, testOptions, "h")
	c := d.Spec.Template.Spec.Containers[0]
	if strings.Join(c.Args, " ") != "/etc/redis/redis.conf" || len(c.Command) != 0 || len(c.Env) != 0 {
		t.Errorf("command %v args %v env %v: want only the config file as argument", c.Command, c.Args, c.Env)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("no default resources: %+v", c.Resources)
	}
	if v := d.Spec.Template.Spec.Volumes[1]; v.EmptyDir == nil {
		t.Errorf("data volume without persistence: %+v", v)
	}

	size := resource.MustParse("5Gi")
	sc.Spec.Redis.ManagedInstance = &v1alpha1.ManagedRedisSpec{Persistence: &v1alpha1.ManagedRedisPersistence{Size: &size}}
	d = desiredRedisDeployment(sc, testOptions, "h")
	if v := d.Spec.Template.Spec.Volumes[1]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "sig-redis-data" {
		t.Errorf("data volume with persistence: %+v", v)
	}
	if pvc := desiredRedisDataClaim(sc); pvc == nil || !pvc.Spec.Resources.Requests.Storage().Equal(size) {
		t.Errorf("claim %+v", pvc)
	}
	if !strings.Contains(redisConfig(sc, "x"), "\nappendonly yes\n") {
		t.Error("persistence without appendonly")
	}

	// The signaling pods read the managed password from the managed Secret.
	env := desiredDeployment(sc, testOptions, "h").Spec.Template.Spec.Containers[0].Env
	found := false
	for _, e := range env {
		if e.Name == "SIGNALING_REDIS_PASSWORD" {
			found = e.ValueFrom.SecretKeyRef.Name == "sig-redis-auth" && e.ValueFrom.SecretKeyRef.Key == "password"
		}
	}
	if !found {
		t.Errorf("SIGNALING_REDIS_PASSWORD not from sig-redis-auth/password: %+v", env)
	}
}

// The rendered redis.conf, run by a real redis-server as the container would (config file as
// the only argument): protected mode on, the password required, odd passwords quoted safely.
func TestRenderedRedisConfigRunsAndRequiresThePassword(t *testing.T) {
	password := "pa ss\"wo\\rd\nrequirepass x"
	port := freePort(t)
	dir := t.TempDir()
	conf := strings.Replace(redisConfig(managedCluster(), password), "port 6379", fmt.Sprintf("port %d", port), 1)
	conf = strings.Replace(conf, "bind * -::*", "bind 127.0.0.1", 1)
	conf = strings.Replace(conf, "dir /data", "dir "+dir, 1)
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx := context.Background()
	withPW := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer withPW.Close()
	eventually(t, 10*time.Second, "redis-server with the rendered config", func() error { return withPW.Ping(ctx).Err() })
	anon := redis.NewClient(&redis.Options{Addr: addr})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without the password: %v, want NOAUTH", err)
	}
	if v, err := withPW.ConfigGet(ctx, "protected-mode").Result(); err != nil || v["protected-mode"] != "yes" {
		t.Errorf("protected-mode %v (%v)", v, err)
	}
	if args := strings.Join(cmd.Args, " "); strings.Contains(args, "pa ss") {
		t.Errorf("password on the command line: %s", args)
	}
}
