package mqtttest

import (
	"testing"

	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// StartMochi starts the embedded broker on a free loopback port for quick
// tests and returns its address; t.Cleanup stops it.
func StartMochi(t testing.TB) string {
	t.Helper()
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("start embedded broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Addr()
}
