package presencetest_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/presence/presencetest"
)

func TestMemoryPresenceContract(t *testing.T) {
	presencetest.Run(t, presencetest.Capabilities{Expiry: false}, func(t *testing.T) func() presencetest.Backend {
		m := presence.NewMemory() // one process: every "node" shares it
		return func() presencetest.Backend { return presencetest.Backend{Store: m, Nodes: m} }
	})
}
