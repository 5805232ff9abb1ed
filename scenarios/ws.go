package scenarios

import (
	"crypto/tls"
	"net"
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
func (t Target) BrokerWebSocket() bool {
	if t.Broker == brokerEmbeddedWS {
		return true
	}
	u, err := url.Parse(t.Broker)
	return err == nil && (u.Scheme == "ws" || u.Scheme == "wss")
}

// brokerOptions are the embedded broker's listeners for t: a WebSocket
// one too when devices speak WebSocket to it. The backend keeps to TCP.
func brokerOptions(t Target, host string) broker.Options {
	o := broker.Options{Addr: net.JoinHostPort(host, "0")}
	if t.BrokerWebSocket() {
		o.WebSocketAddr = o.Addr
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

// wsDevicesFor returns how devices reach the broker over WebSocket, or
// nil when they speak plain MQTT. The embedded broker's URL is b's.
func wsDevicesFor(s *Scenario, b *broker.Broker) *wsDevices {
	if !s.Target.BrokerWebSocket() {
		return nil
	}
	w := &wsDevices{url: s.Target.Broker, tls: s.wsTLS}
	if b != nil {
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
