//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// 6. The users of a deleted pod (drain) and of a SIGKILLed container (crash) are reported gone
// within 15 s, exactly once.
func (s *userPath) deleteAndCrash(t *testing.T) {
	s.usersLeaveOnce(t, "delete", func(victim corev1.Pod) {
		s.kubectl(t, "-n", demoNS, "delete", "pod", victim.Name, "--wait=false")
	})
	waitFor(t, 3*time.Minute, "3 Ready signaling pods after the delete", func() (bool, error) {
		return len(s.readySignalingPods(t, demoNS, sampleName)) == replicas, nil
	})
	s.usersLeaveOnce(t, "crash", func(victim corev1.Pod) {
		_, pid := s.containerTask(t, demoNS, victim.Name, "signaling")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d (signaling container of %s): %v", pid, victim.Name, err)
		}
	})
	waitFor(t, 3*time.Minute, "3 Ready signaling pods after the crash", func() (bool, error) {
		return len(s.readySignalingPods(t, demoNS, sampleName)) == replicas, nil
	})
	var restarts int32
	for _, p := range s.readySignalingPods(t, demoNS, sampleName) {
		for _, c := range p.Status.ContainerStatuses {
			restarts += c.RestartCount
		}
	}
	if restarts != 1 {
		t.Errorf("signaling container restarts after one SIGKILL: %d, want 1", restarts)
	}
}

// usersLeaveOnce puts victimsPerCheck users on one pod and a watcher on another, runs kill, and
// checks the watcher's user_left events.
func (s *userPath) usersLeaveOnce(t *testing.T, name string, kill func(victim corev1.Pod)) {
	t.Helper()
	pods := s.readySignalingPods(t, demoNS, sampleName)
	if len(pods) < 2 {
		t.Fatalf("%d ready pods", len(pods))
	}
	watcherPod, victimPod := pods[0], pods[1]
	type tok struct {
		User  string `json:"user"`
		Token string `json:"token"`
	}
	var victims []tok
	for i := 0; i < victimsPerCheck; i++ {
		u := fmt.Sprintf("%s-victim-%d", name, i)
		victims = append(victims, tok{u, s.token(t, u)})
	}
	raw, _ := json.Marshal(victims)
	n := s.startNode(t, "cluster-watch.mjs", map[string]string{
		"WATCH_URL": podURL(watcherPod.Status.PodIP), "VICTIM_URL": podURL(victimPod.Status.PodIP),
		"ROOM": name + "-room", "TOKEN_WATCHER": s.token(t, name+"-watcher"), "VICTIM_TOKENS": string(raw),
	})
	if line := n.next(time.Minute); !strings.Contains(line, `"ready"`) {
		t.Fatalf("watch script: %s", line)
	}
	n.send("go") // first: the script's clock starts before the first victim can drop
	kill(victimPod)
	var res struct {
		Left map[string][]struct {
			Ms     int64
			Reason string
		}
		Disconnected     map[string]int64
		WatcherConnected bool
	}
	line := n.next(time.Minute)
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("watch result %q: %v", line, err)
	}
	// A drain closes its sockets spread over up to 10 s (docs/operations.md, "Drain on SIGTERM")
	// and keeps each dropped user's place for the reconnection window, so the bound applies from
	// the moment a user's connection dropped; the time from the kill is reported as well.
	var worstFromKill, worstFromDrop int64
	for _, v := range victims {
		got := res.Left[v.User]
		if len(got) != 1 {
			t.Errorf("%s: %s's user_left seen %d times, want exactly once (%v)", name, v.User, len(got), got)
			continue
		}
		drop, ok := res.Disconnected[v.User]
		if !ok || drop < 0 {
			t.Errorf("%s: %s's connection did not drop after the kill", name, v.User)
			continue
		}
		worstFromKill = max(worstFromKill, got[0].Ms)
		worstFromDrop = max(worstFromDrop, got[0].Ms-drop)
		if time.Duration(got[0].Ms-drop)*time.Millisecond > userGoneBound {
			t.Errorf("%s: %s reported gone %d ms after the connection dropped, want within %s", name, v.User, got[0].Ms-drop, userGoneBound)
		}
	}
	if !res.WatcherConnected {
		t.Errorf("%s: the watcher on another pod lost its connection", name)
	}
	s.record(t, "user_left_after_"+name+"_max_ms_from_kill", "%d", worstFromKill)
	s.record(t, "user_left_after_"+name+"_max_ms_from_drop", "%d", worstFromDrop)
	s.record(t, "user_left_after_"+name+"_reasons", "%v", res.Left)
}
