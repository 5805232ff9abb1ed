package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Recorder receives the engine's measurements. It is called concurrently
// from many goroutines and must be safe for that and fast.
type Recorder interface {
	Record(Event)
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(Event)

// Record calls f(e).
func (f RecorderFunc) Record(e Event) { f(e) }

// EventKind says what an Event measures.
type EventKind uint8

// Event kinds. Latency is set where the comment names one, unless Err is
// "untimed": the message counts but its intended time was lost (a short
// token whose stamp was overwritten). Disconnected
// and Closed only ever follow a Connected, once each; a Duplicate is never
// also a Delivered.
const (
	Connected         EventKind = iota + 1 // Latency: dial to CONNACK (and SUBACKs)
	ConnectFailed                          // Err set
	Disconnected                           // a live connection was lost; Err set
	Closed                                 // the engine closed a connection (stage ramp-down, end of run)
	Reconnecting                           // a reconnect attempt is scheduled
	Published                              // a telemetry message was written; Latency: how late it left against its intended time (schedule lag)
	PublishFailed                          // Err set
	Acked                                  // Latency: intended send time to PUBACK/PUBCOMP
	Delivered                              // Latency: intended send time to backend delivery
	Duplicate                              // the backend saw a message twice
	CommandSent                            // backend sent a command
	CommandReplied                         // Latency: intended command time to the device's reply at the backend
	RequestSent                            // device sent a request
	RequestAnswered                        // Latency: intended request time to the backend's answer at the device
	Deferred                               // a radio constraint (such as a duty cycle) held a send back; Latency: the hold
	OnAir                                  // a frame was transmitted; Latency: its time on air
	DownlinkWait                           // a command waited for the device to listen (paging window, RX1); Latency: the wait
	Woke                                   // a sleeping per-report device woke to send; Latency: how long it slept
	Collided                               // a frame overlapped another on its channel and was lost on the air
	Promoted                               // an idle radio set up its connection to send or be reached (RRC setup); Latency: the setup time
	ConnectUnfinished                      // a connect attempt the end of the run cut short: neither a connect nor a failure
	Unacked                                // a QoS 1/2 telemetry message given up without its PUBACK/PUBCOMP: its connection was lost or closed first
	BackendLag                             // Latency: from a message reaching the backend's host to the engine handling it
	Measured                               // a protocol's own latency, named by Metric (a DTLS handshake, a CoAP round trip); Latency set
	Counted                                // a protocol's own count, named by Metric (a retransmission): one each
	numEventKinds
)

// NumKinds is one more than the largest EventKind: the length of an array
// indexed by kind.
const NumKinds = int(numEventKinds)

var kindNames = [...]string{"", "connected", "connect_failed", "disconnected", "closed",
	"reconnecting", "published", "publish_failed", "acked", "delivered", "duplicate",
	"command_sent", "command_replied", "request_sent", "request_answered", "deferred",
	"on_air", "downlink_wait", "woke", "collided", "promoted", "connect_unfinished", "unacked",
	"backend_lag", "measured", "counted"}

// Every kind has a name: this fails to compile when they disagree.
var _ [NumKinds]string = kindNames

// String names the kind.
func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one measurement.
type Event struct {
	Kind  EventKind
	Group int
	// At is when the event happened, measured from the start of the run.
	At time.Duration
	// Latency is the measured duration, for kinds that carry one.
	Latency time.Duration
	// Err is the short kind of a failure (see ErrorKind).
	Err string
	// Intended is a message's intended time (its schedule slot), which
	// assigns it to a stage: set on Published, Acked, Unacked, Delivered,
	// Duplicate, CommandSent, CommandReplied, RequestSent and
	// RequestAnswered. An untimed message carries At.
	Intended time.Duration
	// Timed marks telemetry (Published, Acked, Unacked) from a device the
	// backend times end to end, whose delivery is therefore expected.
	Timed bool
	// Metric names what a Measured or Counted event measures, in
	// lower_snake_case ("dtls_handshake"); reports show it under this
	// name with no change of their own.
	Metric string
}

// ErrorKind classifies err into a short, stable label for error counts:
// a transport's own kind when the error has a Kind() string method;
// timeout, refused, reset, closed, canceled, too_many_files or no_ports
// for the common cases; the system error's own text, as a label, for any
// other errno ("network_is_unreachable"); otherwise other.
func ErrorKind(err error) string {
	var k interface{ Kind() string }
	var ne net.Error
	var errno syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.As(err, &k):
		return k.Kind()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_ports"
	case errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF):
		return "closed"
	case errors.As(err, &errno):
		return strings.ReplaceAll(strings.ToLower(errno.Error()), " ", "_")
	}
	return "other"
}
