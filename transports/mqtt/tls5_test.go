package mqtt_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/pki"
)

// TestV5OverTLS runs an MQTT 5 device with topic aliases over TLS: the
// session's protocol does not care what the dialer wraps.
func TestV5OverTLS(t *testing.T) {
	for _, b := range tlsBrokers {
		t.Run(b.name, func(t *testing.T) {
			ca, err := pki.NewCA()
			if err != nil {
				t.Fatal(err)
			}
			addr := b.start(t, ca)
			cert, err := ca.Issue("dev-5")
			if err != nil {
				t.Fatal(err)
			}
			cfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert}}
			r := &recorder{}
			s := connect(t, mqtt.Options{Addr: addr, ClientID: "dev-5", Timeout: 5 * time.Second, ProtocolVersion: mqtt.V5,
				Dial: dial.TLS(nil, dial.TLSOptions{Config: cfg}), V5: mqtt.V5Options{TopicAliases: 4, MessageExpiry: time.Minute},
				Subscribe: []mqtt.Subscription{{Topic: "m2msim/tls5/#", QoS: 1}}}, r)
			for id := uint16(1); id <= 3; id++ {
				if err := s.Publish(id, "m2msim/tls5/up", []byte("x"), 1, false); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, 5*time.Second, func() bool { a, m, _ := r.counts(); return a == 3 && m == 3 },
				"acked %v, messages %v: want 3 of each over TLS", r.ackedIDs(), r.messages())
			for _, m := range r.messages() {
				if m.topic != "m2msim/tls5/up" {
					t.Errorf("message on %q, want m2msim/tls5/up", m.topic)
				}
			}
		})
	}
}
