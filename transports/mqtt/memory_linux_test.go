//go:build linux

package mqtt_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// BenchmarkIdleSessions measures what an idle connected device costs this
// process: 5,000 sessions against Mosquitto (a separate process, so its
// memory is not counted), keepalive 60s, nothing in flight.
func BenchmarkIdleSessions(b *testing.B) {
	n := footprint.Devices(5000)
	m := mqtttest.StartMosquitto(b, mqtttest.WithConfig("log_type none"))
	ctx := context.Background()
	for b.Loop() {
		before := footprint.Take(b)
		ss := make([]*mqtt.Session, 0, n)
		for i := range n {
			s, err := mqtt.Connect(ctx, mqtt.Options{Addr: m.Addr(), ClientID: "idle-" + strconv.Itoa(i),
				KeepAlive: time.Minute, CleanSession: true}, nil)
			if err != nil {
				b.Fatalf("session %d: %v", i, err)
			}
			ss = append(ss, s)
		}
		after := footprint.Take(b)
		after.ReportPer(b, before, n, "session")
		for _, s := range ss {
			s.Close()
		}
	}
}
