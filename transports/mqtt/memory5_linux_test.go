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

// BenchmarkIdleSessionsVersions is BenchmarkIdleSessions for MQTT 3.1.1
// and MQTT 5 side by side, against one Mosquitto: 2,000 idle sessions
// each, the MQTT 5 ones with a session expiry, topic aliases both ways,
// a message expiry and a user property.
func BenchmarkIdleSessionsVersions(b *testing.B) {
	n := footprint.Devices(2000)
	m := mqtttest.StartMosquitto(b, mqtttest.WithConfig("log_type none"))
	for _, v := range []struct {
		name string
		o    mqtt.Options
	}{
		{"v3.1.1", mqtt.Options{}},
		{"v5", mqtt.Options{ProtocolVersion: mqtt.V5, V5: mqtt.V5Options{SessionExpiry: time.Minute, TopicAliases: 8,
			MessageExpiry: time.Minute, UserProperties: []mqtt.UserProperty{{Key: "fleet", Value: "m2msim"}}}}},
	} {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				idleSessions(b, m.Addr(), v.o, n)
			}
		})
	}
}

func idleSessions(b *testing.B, addr string, o mqtt.Options, n int) {
	before := footprint.Take(b)
	ss := make([]*mqtt.Session, 0, n)
	defer func() {
		for _, s := range ss {
			s.Close()
		}
	}()
	o.Addr, o.KeepAlive, o.CleanSession = addr, time.Minute, true
	for i := range n {
		o.ClientID = "idle-" + strconv.Itoa(i)
		s, err := mqtt.Connect(context.Background(), o, nil)
		if err != nil {
			b.Fatalf("session %d: %v", i, err)
		}
		ss = append(ss, s)
	}
	after := footprint.Take(b)
	after.ReportPer(b, before, n, "session")
}
