package node

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
)

func TestOverlayReplacesOnlyWhatIsSet(t *testing.T) {
	dst := hub.Options{NodeID: "n1", MaxRoomSize: 10, ReconnectWindow: 5 * time.Second}
	overlay(&dst, hub.Options{ReconnectWindow: 700 * time.Millisecond})
	if dst.NodeID != "n1" || dst.MaxRoomSize != 10 || dst.ReconnectWindow != 700*time.Millisecond {
		t.Fatalf("overlay = %+v", dst)
	}
}
