package sim

import (
	"context"
	"time"
)

// Connector opens device sessions. Implementations dial through whatever
// link shaping the scenario asked for; the engine never opens a socket.
type Connector interface {
	// Connect dials, completes the protocol handshake and the
	// subscriptions in spec, and returns a live session. Events on the
	// session are reported to h from then on. It honours ctx and
	// spec.Timeout.
	Connect(ctx context.Context, spec ConnectSpec, h Handler) (Session, error)
}

// ConnectSpec is what a device asks of its session.
type ConnectSpec struct {
	ClientID  string
	Connect   Connect
	Subscribe []Subscription
	// Device is the device's fleet-wide index; dialers may use it to pick
	// a source address or a link profile.
	Device int
	// Conn numbers the device's connections, rising with each: a shaped
	// link seeds each connection's draws from it, so reconnections and
	// per-report wakes differ, yet repeat from run to run.
	Conn uint64
}

// Subscription is a topic filter and its QoS.
type Subscription struct {
	Topic string
	QoS   byte
}

// Session is a live device connection.
type Session interface {
	// Publish sends a message. For QoS 1 and 2 the engine chooses id
	// (non-zero, unique among the session's unacknowledged messages) and
	// Handler.Acked(id) follows on PUBACK or PUBCOMP.
	Publish(id uint16, topic string, payload []byte, qos byte, retain bool) error
	// Ping sends a keepalive.
	Ping() error
	// Close ends the session cleanly; Handler.Lost is not called after it.
	Close() error
}

// Handler receives a session's events. Calls come from the session's
// reader goroutine, one at a time, and must not block for long.
type Handler interface {
	// Acked reports the end of a QoS 1 or 2 publish flow.
	Acked(id uint16)
	// Message delivers an inbound publish. payload is only valid during
	// the call.
	Message(topic string, payload []byte)
	// Lost reports that the connection ended without Close.
	Lost(err error)
}

// Backend is the server-side application's stand-in: it receives what
// devices send and sends what the backend would send them. The engine
// never calls Publish from inside deliver, and bounds every Publish with a
// deadline in ctx.
type Backend interface {
	// Subscribe adds subscriptions; deliver is called for every inbound
	// message, with a payload only valid during the call. It may be
	// called from several goroutines at once (one per backend connection)
	// and must not block.
	Subscribe(ctx context.Context, subs []Subscription, deliver func(Delivery)) error
	// Publish sends a message from the backend, giving up when ctx ends.
	Publish(ctx context.Context, topic string, payload []byte, qos byte) error
	// Close disconnects.
	Close() error
}

// Delivery is one message the backend received.
type Delivery struct {
	Topic   string
	Payload []byte // valid only during the deliver call
	// Arrived is when the message reached the backend's host: the
	// kernel's receive timestamp where the transport has one, else when
	// it was read. Zero means unknown: the engine takes the time it
	// handles the message. The gap between the two is the backend's own
	// lag, which end-to-end figures then leave out.
	Arrived time.Time
}
