// Package contract is the operator↔node contract over Redis, in one place for both sides:
// the keys and channel they share, the node records the operator counts, and the media
// health verdict the operator publishes (docs/backends.md §The operator ↔ node contract,
// docs/redis.md §Shared with the operator). It imports nothing of the project.
package contract

import (
	"encoding/json"
	"errors"
)

// Keys and channels.
const (
	// MediaHealthKey holds the operator's latest MediaVerdict, with a TTL.
	MediaHealthKey = "media:health"
	// ControlChannel carries cluster-wide notices to every node (MediaHealthNotice, drain).
	ControlChannel = "channel:control"
	// NodeKeyPattern matches every NodeKey (SCAN MATCH syntax).
	NodeKeyPattern = "node:{*}"
)

// NodeKey is where a node keeps its NodeRecord alive with a TTL. The braces make it a
// hash tag, so the node's keys share a Redis Cluster slot.
func NodeKey(nodeID string) string { return "node:{" + nodeID + "}" }

// NodeState is what a node announces about itself.
type NodeState string

const (
	NodeActive   NodeState = "active"
	NodeDraining NodeState = "draining"
)

// NodeRecord is the JSON value of NodeKey.
type NodeRecord struct {
	NodeID    string    `json:"nodeId"`
	State     NodeState `json:"state"`
	UpdatedAt int64     `json:"updatedAt"` // Unix milliseconds
}

// MediaVerdict is the JSON the operator stores at MediaHealthKey.
type MediaVerdict struct {
	Healthy   bool   `json:"healthy"`
	Reason    string `json:"reason"`
	CheckedAt int64  `json:"checkedAt"` // Unix milliseconds
	Cluster   string `json:"cluster"`   // the SignalingCluster's namespace/name
}

// MediaHealthNoticeType is the type (and the node's control event) of a MediaHealthNotice.
const MediaHealthNoticeType = "media_health"

// MediaHealthNotice is the JSON the operator publishes on ControlChannel when its verdict
// changes, so every node applies it at once instead of at its next read of the key.
type MediaHealthNotice struct {
	Type    string `json:"type"` // MediaHealthNoticeType
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason"`
	At      int64  `json:"at"` // Unix milliseconds, the verdict's CheckedAt
}

// Notice is the control-channel announcement of v.
func (v MediaVerdict) Notice() MediaHealthNotice {
	return MediaHealthNotice{Type: MediaHealthNoticeType, Healthy: v.Healthy, Reason: v.Reason, At: v.CheckedAt}
}

// ParseMediaVerdict reads a verdict as stored at MediaHealthKey or announced on
// ControlChannel: both carry healthy, reason and a time (checkedAt or at). A value without
// "healthy" is not a verdict: guessing either way would open or close every node's breaker.
func ParseMediaVerdict(raw []byte) (MediaVerdict, error) {
	var v struct {
		Healthy   *bool  `json:"healthy"`
		Reason    string `json:"reason"`
		CheckedAt int64  `json:"checkedAt"`
		At        int64  `json:"at"`
		Cluster   string `json:"cluster"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Healthy == nil {
		return MediaVerdict{}, errors.New("not a media verdict: " + string(raw))
	}
	at := v.CheckedAt
	if at == 0 {
		at = v.At
	}
	return MediaVerdict{Healthy: *v.Healthy, Reason: v.Reason, CheckedAt: at, Cluster: v.Cluster}, nil
}
