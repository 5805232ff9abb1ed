//go:build linux

package mqtt_test

import (
	"context"
	"crypto/tls"
	"strconv"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/pki"
)

// BenchmarkIdleTLSSessions is BenchmarkIdleSessions over TLS: 2,000
// idle sessions against a Mosquitto that requires client certificates,
// each device holding its own certificate (issued before the first
// measurement, as a run issues it at the first connect) and its session
// ticket. Compare its rss-B/session with BenchmarkIdleSessions'.
func BenchmarkIdleTLSSessions(b *testing.B) {
	n := footprint.Devices(2000)
	ca, err := pki.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	m := mqtttest.StartMosquitto(b, mqtttest.WithTLS(mqtttest.TLS{CA: ca, RequireCertificate: true}), mqtttest.WithConfig("log_type none"))
	ctx, roots := context.Background(), ca.Pool()
	for b.Loop() {
		before := footprint.Take(b)
		ss := make([]*mqtt.Session, 0, n)
		for i := range n {
			cert, err := ca.Issue("idle-" + strconv.Itoa(i))
			if err != nil {
				b.Fatal(err)
			}
			cfg := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ClientSessionCache: new(dial.SessionCache)}
			s, err := mqtt.Connect(ctx, mqtt.Options{Addr: m.Addr(), ClientID: "idle-" + strconv.Itoa(i),
				KeepAlive: time.Minute, CleanSession: true, Dial: dial.TLS(nil, dial.TLSOptions{Config: cfg})}, nil)
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
