package broker_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/ws"
)

func TestWebSocketListener(t *testing.T) {
	b, _ := start(t, 0)
	if u := b.WebSocketURL(); u != "" {
		t.Errorf("WebSocketURL() without a WebSocket listener = %q, want \"\"", u)
	}
	wb, err := broker.StartWith(broker.Options{Addr: "127.0.0.1:0", WebSocketAddr: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	u := wb.WebSocketURL()
	hostport := strings.TrimSuffix(strings.TrimPrefix(u, "ws://"), broker.WebSocketPath)
	if _, port, err := net.SplitHostPort(hostport); err != nil || port == "0" || !strings.HasSuffix(u, "/mqtt") {
		t.Fatalf("WebSocketURL() = %q, want ws://127.0.0.1:<bound port>/mqtt", u)
	}

	// A session over WebSocket and one over TCP see each other's messages.
	got := make(chan string, 1)
	sub, err := mqtt.Connect(t.Context(), mqtt.Options{Addr: wb.Addr(), ClientID: "tcp-sub",
		Subscribe: []mqtt.Subscription{{Topic: "t", QoS: 1}}}, handler{msg: got})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	lost := make(chan error, 1)
	dev, err := mqtt.Connect(t.Context(), mqtt.Options{Addr: u, Dial: ws.Over(nil, ws.Options{}), ClientID: "ws-dev"}, handler{lost: lost})
	if err != nil {
		t.Fatalf("Connect over %s: %v", u, err)
	}
	defer dev.Close()
	if err := dev.Publish(0, "t", []byte("hi"), 0, false); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "hi" {
			t.Errorf("TCP subscriber got %q, want hi", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message across listeners within 5s")
	}

	// A text message is not MQTT: the broker ends that client.
	c, _, err := websocket.DefaultDialer.DialContext(t.Context(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte{0x10, 0})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("after a text message the broker's answer was %v, want the connection closed", err)
	}

	// Closing the broker ends the WebSocket session at once.
	wb.Close()
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the WebSocket session was not lost within 5s of the broker closing")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, err := ws.Dial(ctx, nil, u, ws.Options{}); err == nil {
		t.Error("Dial to a closed broker's WebSocket listener succeeded")
	}
}

// handler passes messages and losses to channels, dropping what does not fit.
type handler struct {
	msg  chan string
	lost chan error
}

func (handler) Acked(uint16) {}
func (h handler) Message(_ string, p []byte) {
	if h.msg != nil {
		select {
		case h.msg <- string(p):
		default:
		}
	}
}
func (h handler) Lost(err error) {
	if h.lost != nil {
		select {
		case h.lost <- err:
		default:
		}
	}
}
