package brokertest_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/broker/brokertest"
)

func TestMemoryBrokerContract(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) brokertest.NewBroker {
		bus := broker.NewMemoryBus()
		return func() broker.Broker { return broker.NewMemory(bus) }
	})
}
