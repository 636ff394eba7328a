package contract

import (
	"encoding/json"
	"testing"
)

// What the operator writes, the node reads back: the stored verdict and its notice.
func TestMediaVerdictRoundTrips(t *testing.T) {
	v := MediaVerdict{Healthy: false, Reason: "GET /health: status 503", CheckedAt: 1700000000123, Cluster: "ns/sc"}
	stored, _ := json.Marshal(v)
	if got, err := ParseMediaVerdict(stored); err != nil || got != v {
		t.Fatalf("stored verdict read back as %+v, %v", got, err)
	}
	notice, _ := json.Marshal(v.Notice())
	got, err := ParseMediaVerdict(notice)
	if err != nil || got.Healthy || got.Reason != v.Reason || got.CheckedAt != v.CheckedAt {
		t.Fatalf("notice read back as %+v, %v", got, err)
	}
}

func TestParseMediaVerdictRefusesWhatIsNoVerdict(t *testing.T) {
	for _, raw := range []string{`{}`, `{"reason":"x"}`, `not json`, `{"healthy":"yes"}`} {
		if _, err := ParseMediaVerdict([]byte(raw)); err == nil {
			t.Errorf("%s parsed as a verdict", raw)
		}
	}
}

func TestNodeKeyMatchesThePattern(t *testing.T) {
	if k := NodeKey("pod-1"); k != "node:{pod-1}" {
		t.Fatalf("NodeKey = %s", k)
	}
}
