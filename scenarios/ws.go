package scenarios

import (
	"crypto/tls"
	"net/url"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/ws"
)

// brokerEmbeddedWS is target.broker's form for the embedded broker with
// devices speaking MQTT over WebSocket to it.
const brokerEmbeddedWS = "embedded+ws"

// wsPaths are the broker URL schemes that keep a path, with the path an
// URL without one gets: /mqtt, the convention of most brokers and of
// proxies in front of them.
var wsPaths = map[string]string{"ws": broker.WebSocketPath, "wss": broker.WebSocketPath}

// BrokerWebSocket reports whether devices speak MQTT over WebSocket: target
// broker embedded+ws, ws:// or wss://.
func (t Target) BrokerWebSocket() bool { return webSocketBroker(t.Broker) }

// webSocketBroker reports whether broker b (a normalised target.broker
// or groups[].mqtt.broker) is reached over WebSocket.
func webSocketBroker(b string) bool {
	if b == brokerEmbeddedWS {
		return true
	}
	u, err := url.Parse(b)
	return err == nil && (u.Scheme == "ws" || u.Scheme == "wss")
}

// groupBroker is where group i's devices connect: its mqtt.broker, else
// target.broker.
func (s *Scenario) groupBroker(i int) string {
	if m := s.Groups[i].MQTT; m != nil && m.Broker != "" {
		return m.Broker
	}
	return s.Target.Broker
}

// mqttOverWS reports whether any MQTT group's devices speak WebSocket.
func (s *Scenario) mqttOverWS() bool {
	for i := range s.Groups {
		if s.Groups[i].Protocol == ProtocolMQTT && webSocketBroker(s.groupBroker(i)) {
			return true
		}
	}
	return false
}

// validateGroupBroker checks a group's mqtt.broker at p against the
// target: the devices and the backend must meet at one broker.
func (s *Scenario) validateGroupBroker(t *tree, p string, g *Group) {
	b := g.MQTT.Broker
	if b == "" || t.bad[p] {
		return
	}
	if _, err := brokerAddress.normalise(b); err != nil {
		t.add(p, "%v", err)
		return
	}
	embedded := b == brokerEmbedded || b == brokerEmbeddedWS
	switch {
	case embedded && !s.Target.Embedded():
		t.add(p, "%s is a listener of m2msim's own broker: it needs target.broker: embedded (the backend meets the devices at target.broker)", b)
	case !embedded && s.Target.Embedded():
		t.add(p, "%s is another broker than target.broker (embedded): the backend would never see these devices; use embedded or embedded+ws", b)
	case b == brokerEmbeddedWS && g.TLS != nil:
		t.add(p, "the embedded broker's WebSocket listener speaks plain ws://: leave out this group's tls")
	case !embedded && brokerTLSScheme[schemeOf(b)] != s.Target.Secure():
		t.add(p, "%s and target.broker %s must both speak TLS or both not: target.tls configures both", b, s.Target.Broker)
	}
}

// brokerOptions are the embedded broker's listeners for s: a WebSocket
// one too when devices speak WebSocket to it. The backend keeps to TCP.
func brokerOptions(s *Scenario) broker.Options {
	o := broker.Options{Addr: "127.0.0.1:0"}
	if s.mqttOverWS() {
		o.WebSocketAddr = "127.0.0.1:0"
	}
	return o
}

// wsDevices opens the devices' (and for an external broker, the
// backend's) connections over WebSocket to url.
type wsDevices struct {
	url string
	// tls gives a device's TLS configuration for wss://; nil verifies
	// against the system's roots. Device -1 is the backend.
	tls func(device int) *tls.Config
}

// wsDevicesFor returns how devices reach broker url over WebSocket, or
// nil when they speak plain MQTT. The embedded broker's URL is b's.
func wsDevicesFor(s *Scenario, url string, b *broker.Broker) *wsDevices {
	if !webSocketBroker(url) {
		return nil
	}
	w := &wsDevices{url: url, tls: s.wsTLS}
	if b != nil && url == brokerEmbeddedWS {
		w.url = b.WebSocketURL()
	}
	return w
}

// over wraps a device's dial.Func (its shaped link) so its session
// speaks WebSocket, TLS included, over that link.
func (w *wsDevices) over(device int, d dial.Func) dial.Func {
	var o ws.Options
	if w.tls != nil {
		o.TLS = w.tls(device)
	}
	return ws.Over(d, o)
}
