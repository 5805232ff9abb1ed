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
	// Group is the group whose devices' messages it takes (the first
	// such group when several share it): a backend serving several
	// protocols routes by it. Device subscriptions leave it 0.
	Group int
}

// Ref is the engine's reference to a message it awaits an
// acknowledgement for: non-zero, and unique among one session's
// unacknowledged messages. Each transport maps it to its own (an MQTT
// packet id, a CoAP token and message id).
type Ref uint32

// Flow says which of a device's flows a message belongs to, for
// transports that send each differently (a CoAP POST for telemetry, a
// GET for a request).
type Flow uint8

// Flows of device messages.
const (
	FlowTelemetry Flow = iota + 1 // periodic reports
	FlowRequest                   // a device-initiated exchange the backend answers
	FlowReply                     // the device's answer to a command
)

// Message is one message a device sends.
type Message struct {
	// Ref is set when the message is acknowledged (QoS above 0): the
	// session reports its outcome with Handler.Acked or Handler.Failed.
	Ref  Ref
	Flow Flow
	// Dest is where it goes: an MQTT topic, a CoAP or HTTP path.
	Dest string
	// Payload is only valid during Send.
	Payload []byte
	// QoS 0 is fire and forget; above 0 the server acknowledges (an MQTT
	// PUBACK or PUBCOMP, a CoAP response to a confirmable request).
	QoS    byte
	Retain bool
}

// Session is a live device connection.
type Session interface {
	// Send writes a message without waiting for its acknowledgement.
	Send(m Message) error
	// Close ends the session cleanly; Handler.Lost is not called after it.
	Close() error
}

// Pinger is a Session whose protocol keeps an idle connection alive with
// its own messages (an MQTT PINGREQ). The engine sends one when the
// device has sent nothing for most of its keepalive.
type Pinger interface {
	Ping() error
}

// Handler receives a session's events. Calls come from the session's
// goroutines, one at a time per session, and must not block for long.
type Handler interface {
	// Acked reports that the server acknowledged ref. For a group with
	// InlineAnswers a request's acknowledgement is its answer.
	Acked(ref Ref)
	// Failed reports that the session gave up on ref after sending it:
	// no acknowledgement in time, a reset, an error response (err says
	// which; a Kind() string method names it in error counts).
	Failed(ref Ref, err error)
	// Message delivers what the server sends the device: a command, or
	// the answer to a request. payload is only valid during the call.
	Message(dest string, payload []byte)
	// Lost reports that the connection ended without Close.
	Lost(err error)
	// Measure records a latency of the protocol's own, named in
	// lower_snake_case ("dtls_handshake").
	Measure(metric string, d time.Duration)
	// Count records one occurrence of the protocol's own, named in
	// lower_snake_case ("coap_retransmit").
	Count(metric string)
	// Transmitted reports a frame of size bytes that the transport sent
	// on its own, such as a retransmission: it is an uplink like the
	// engine's own frames, so the device's radio charges its airtime and
	// duty cycle, and its sleep timers restart.
	Transmitted(size int)
}

// Receiver is the backend's receiving role: the server-side application
// that gets what devices send.
type Receiver interface {
	// Subscribe adds subscriptions; deliver is called for every inbound
	// message, with a payload only valid during the call. It may be
	// called from several goroutines at once (one per backend connection)
	// and must not block.
	Subscribe(ctx context.Context, subs []Subscription, deliver func(Delivery)) error
}

// Sender is the backend's sending role: commands to devices and answers
// to their requests. The engine never calls Publish from inside a
// delivery, and bounds each call with a deadline in ctx.
type Sender interface {
	// Publish sends a message from the backend, giving up when ctx ends.
	Publish(ctx context.Context, m Outbound) error
}

// Outbound is a message the backend sends a device: a command, or the
// answer to a request. Payload is only valid during Publish.
type Outbound struct {
	Group   int // the device's group: a backend serving several protocols routes by it
	Topic   string
	Payload []byte
	QoS     byte
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
	// Err, when set, says that the command whose reply token Payload
	// carries failed before the device could answer it: the backend's
	// request to the device timed out or was refused. Its round trip
	// closes as failed, counted under "command_" and Err's ErrorKind.
	Err error
}
