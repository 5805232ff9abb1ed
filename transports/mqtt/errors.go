package mqtt

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

// ErrClosed is returned by calls on a session or backend after Close, and
// after the connection was lost. It wraps net.ErrClosed.
var ErrClosed = fmt.Errorf("mqtt: session closed: %w", net.ErrClosed)

// ErrPingTimeout ends a session whose previous PINGREQ went unanswered for
// longer than Options.Timeout. It wraps os.ErrDeadlineExceeded, so it
// classifies as a timeout.
var ErrPingTimeout = fmt.Errorf("mqtt: no PINGRESP in time: %w", os.ErrDeadlineExceeded)

// ErrServerDisconnect ends a session whose broker sent DISCONNECT (an
// MQTT 5 habit some brokers keep with 3.1.1 clients). It wraps io.EOF, so
// it classifies as a closed connection.
var ErrServerDisconnect = fmt.Errorf("mqtt: broker sent DISCONNECT: %w", io.EOF)

// ErrInvalid reports an argument the protocol cannot carry (QoS above 2, a
// QoS 1 or 2 publish with packet id 0, an empty or oversized topic).
var ErrInvalid = errors.New("mqtt: invalid argument")

// SendBufferFullError refuses a Publish while the session already holds
// bytes its socket could not take, and the PUBLISH would grow them past
// Options.SendBuffer. Nothing of the refused packet is written, so the
// stream stays intact and the session usable. Match it with errors.As
// and a *SendBufferFullError target.
type SendBufferFullError struct {
	Buffered int // bytes waiting for the socket
	Packet   int // size of the refused PUBLISH
	Limit    int // Options.SendBuffer
}

// Error gives the sizes involved.
func (e SendBufferFullError) Error() string {
	return "mqtt: send buffer full: " + strconv.Itoa(e.Buffered) + " bytes waiting, " +
		strconv.Itoa(e.Packet) + " more would pass the limit of " + strconv.Itoa(e.Limit)
}

// Kind returns "send_buffer_full".
func (e SendBufferFullError) Kind() string { return "send_buffer_full" }

// connackText names the MQTT 3.1.1 CONNACK return codes.
var connackText = [...]struct{ text, kind string }{
	1: {"unacceptable protocol version", "connack_bad_protocol_version"},
	2: {"identifier rejected", "connack_identifier_rejected"},
	3: {"server unavailable", "connack_server_unavailable"},
	4: {"bad user name or password", "connack_bad_credentials"},
	5: {"not authorized", "connack_not_authorized"},
}

// ConnackError is a broker's refusal of CONNECT, carrying the CONNACK
// return code. Match it with errors.As and a *ConnackError target.
type ConnackError struct {
	Code byte
}

// Error names the code, as in "connack: not authorized (5)".
func (e ConnackError) Error() string {
	text := "unknown return code"
	if int(e.Code) < len(connackText) && e.Code != 0 {
		text = connackText[e.Code].text
	}
	return "connack: " + text + " (" + strconv.Itoa(int(e.Code)) + ")"
}

// Kind returns a short stable label such as "connack_not_authorized" for
// error counts.
func (e ConnackError) Kind() string {
	if int(e.Code) < len(connackText) && e.Code != 0 {
		return connackText[e.Code].kind
	}
	return "connack_code_" + strconv.Itoa(int(e.Code))
}

// SubackError is a broker's refusal (return code 0x80, or an MQTT 5
// reason code from 0x80 up) of one subscription. Match it with errors.As
// and a *SubackError target; it unwraps to its ReasonCodeError.
type SubackError struct {
	Topic string
	Code  byte
	v5    bool // an MQTT 5 reason code, which Unwrap returns
}

// Unwrap returns an MQTT 5 refusal's ReasonCodeError; nil for 3.1.1.
func (e SubackError) Unwrap() error {
	if !e.v5 {
		return nil
	}
	return ReasonCodeError{Packet: typeSuback, Code: e.Code}
}

// Error names the refused topic filter.
func (e SubackError) Error() string {
	return "suback: subscription to " + strconv.Quote(e.Topic) + " refused"
}

// Kind returns "suback_refused".
func (e SubackError) Kind() string { return "suback_refused" }

// ProtocolError reports malformed or unexpected bytes from the server. The
// session that saw it is ended. Match it with errors.As and a
// *ProtocolError target.
type ProtocolError struct {
	// Packet is the MQTT control packet type (1-15) the problem was found
	// in, or 0 when the fixed header itself was bad.
	Packet byte
	// Reason says what was wrong.
	Reason string
}

// Error describes the violation.
func (e ProtocolError) Error() string {
	if e.Packet == 0 {
		return "mqtt: protocol error: " + e.Reason
	}
	return "mqtt: protocol error in " + packetName(e.Packet) + ": " + e.Reason
}

// Kind returns "protocol".
func (e ProtocolError) Kind() string { return "protocol" }

func protoErr(packet byte, format string, args ...any) error {
	return ProtocolError{Packet: packet, Reason: fmt.Sprintf(format, args...)}
}

var packetNames = [...]string{"RESERVED(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK",
	"PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK",
	"PINGREQ", "PINGRESP", "DISCONNECT", "RESERVED(15)"}

func packetName(t byte) string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return "packet type " + strconv.Itoa(int(t))
}
