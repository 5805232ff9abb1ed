package mqtt_test

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/pki"
)

// tlsBrokers start a broker whose listener speaks TLS and requires a
// client certificate from ca.
var tlsBrokers = []struct {
	name  string
	start func(t *testing.T, ca *pki.CA) string
}{
	{"mosquitto", func(t *testing.T, ca *pki.CA) string {
		return mqtttest.StartMosquitto(t, mqtttest.WithTLS(mqtttest.TLS{CA: ca, RequireCertificate: true})).Addr()
	}},
	{"mochi", func(t *testing.T, ca *pki.CA) string {
		cert, err := ca.IssueServer("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := broker.StartTLS("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b.Addr()
	}},
}

func TestConnectOverTLS(t *testing.T) {
	for _, b := range tlsBrokers {
		t.Run(b.name, func(t *testing.T) {
			ca, err := pki.NewCA()
			if err != nil {
				t.Fatal(err)
			}
			other, err := pki.NewCA()
			if err != nil {
				t.Fatal(err)
			}
			addr := b.start(t, ca)
			cert, err := ca.Issue("dev-1")
			if err != nil {
				t.Fatal(err)
			}
			var hs []dial.TLSHandshake
			good := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert}, ClientSessionCache: new(dial.SessionCache)}
			o := mqtt.Options{Addr: addr, ClientID: "dev-1", CleanSession: true, Timeout: 5 * time.Second,
				Dial: dial.TLS(nil, dial.TLSOptions{Config: good, Handshook: func(h dial.TLSHandshake) { hs = append(hs, h) }})}
			for i := range 2 {
				r := &recorder{}
				s, err := mqtt.Connect(t.Context(), o, r)
				if err != nil {
					t.Fatalf("connect %d: %v", i, err)
				}
				if err := s.Publish(1, "m2msim/tls", []byte("x"), 1, false); err != nil {
					t.Fatal(err)
				}
				eventually(t, 5*time.Second, func() bool { a, _, _ := r.counts(); return a == 1 }, "no PUBACK over TLS")
				s.Close()
			}
			if len(hs) != 2 || hs[0].Resumed || !hs[1].Resumed {
				t.Errorf("handshakes %+v, want a full one then a resumed one", hs)
			}

			for _, tc := range []struct {
				name   string
				cfg    *tls.Config
				reason string
			}{
				{"wrong CA", &tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{cert}}, dial.ReasonUnknownCA},
				{"no client certificate", &tls.Config{RootCAs: ca.Pool()}, dial.ReasonCertMissing},
			} {
				o.Dial = dial.TLS(nil, dial.TLSOptions{Config: tc.cfg})
				start := time.Now()
				_, err := mqtt.Connect(t.Context(), o, nil)
				var te *dial.TLSError
				if !errors.As(err, &te) || te.Reason != tc.reason {
					t.Errorf("%s: %v, want a TLSError %s", tc.name, err, tc.reason)
				}
				if d := time.Since(start); d > 4*time.Second {
					t.Errorf("%s: failed after %v", tc.name, d)
				}
			}
		})
	}
}
