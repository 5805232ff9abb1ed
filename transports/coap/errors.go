package coap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// ErrClosed is returned by calls on a session after Close, and by Do when
// the session closes while it waits. It wraps net.ErrClosed.
var ErrClosed = fmt.Errorf("coap: session closed: %w", net.ErrClosed)

// ErrInvalid reports a request the session cannot send: a code that is
// not a method (and not the empty code of a ping), a type other than CON
// or NON, a token over 8 bytes or one already in use.
var ErrInvalid = errors.New("coap: invalid request")

// FormatError is a message format error (RFC 7252 §3): bytes that are not
// a CoAP message, or a message the wire cannot carry. Match it with
// errors.As and a *FormatError target.
type FormatError struct {
	Reason string
}

// Error says what was wrong.
func (e *FormatError) Error() string { return "coap: message format error: " + e.Reason }

// Kind returns "format".
func (e *FormatError) Kind() string { return "format" }

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// TimeoutError ends an exchange that got no answer in time: a
// confirmable request unacknowledged after MaxRetransmit retransmissions
// (Acked false), or a request whose response did not follow within
// ResponseTimeout (Acked true for a CON acknowledged by an empty ACK,
// false for a NON). It wraps os.ErrDeadlineExceeded. Match it with
// errors.As and a *TimeoutError target.
type TimeoutError struct {
	Transmissions  int  // times the request was sent
	Acked          bool // an empty ACK came, the response did not
	NonConfirmable bool
}

// Error says what was missing after how many transmissions.
func (e *TimeoutError) Error() string {
	what := "no acknowledgement"
	if e.Acked || e.NonConfirmable {
		what = "no response"
	}
	return "coap: " + what + " after " + strconv.Itoa(e.Transmissions) + " transmissions"
}

// Kind returns "ack_timeout" for a confirmable request never
// acknowledged, else "response_timeout".
func (e *TimeoutError) Kind() string {
	if e.Acked || e.NonConfirmable {
		return "response_timeout"
	}
	return "ack_timeout"
}

// Timeout reports true, as a net.Error does.
func (e *TimeoutError) Timeout() bool { return true }

// Unwrap returns os.ErrDeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return os.ErrDeadlineExceeded }

// ResetError ends an exchange whose request the server rejected with a
// Reset (RST) message. Match it with errors.As and a *ResetError target.
type ResetError struct {
	MessageID uint16 // of the rejected request
}

// Error names the rejected message.
func (e *ResetError) Error() string {
	return "coap: server reset message " + strconv.Itoa(int(e.MessageID))
}

// Kind returns "rst".
func (e *ResetError) Kind() string { return "rst" }

// QueueFullError refuses a request while Options.QueueLimit requests
// already wait for the session's NSTART outstanding interactions to end.
// Match it with errors.As and a *QueueFullError target.
type QueueFullError struct {
	Limit int
}

// Error gives the limit.
func (e *QueueFullError) Error() string {
	return "coap: request queue full: " + strconv.Itoa(e.Limit) + " requests wait for NSTART"
}

// Kind returns "queue_full".
func (e *QueueFullError) Kind() string { return "queue_full" }

// MessageIDError refuses a message when all 65,536 message ids were used
// within the last EXCHANGE_LIFETIME, so the next one could be taken by
// the server for a duplicate of an earlier message (RFC 7252 §4.4): about
// 265 messages per second per endpoint with the default parameters.
// Match it with errors.As and a *MessageIDError target.
type MessageIDError struct {
	Lifetime time.Duration // Options.ExchangeLifetime
}

// Error says why no message id was free.
func (e *MessageIDError) Error() string {
	return "coap: all 65536 message ids used within the exchange lifetime of " + e.Lifetime.String()
}

// Kind returns "message_ids_exhausted".
func (e *MessageIDError) Kind() string { return "message_ids_exhausted" }

// HandshakeError ends a Dial whose DTLS handshake failed: the server
// refused it with an alert (a certificate it rejects, or a wrong PSK when
// the server says so rather than drop the client's Finished), the client
// refused the server's certificate, the socket failed (an ICMP port
// unreachable), or the handshake did not end within
// DTLS.HandshakeTimeout (Timeout reports true). Match it with errors.As
// and a *HandshakeError target.
type HandshakeError struct {
	Addr    string        // the server's
	Elapsed time.Duration // from the first ClientHello to the failure
	Err     error         // the cause
}

// Error says with whom, after how long and why.
func (e *HandshakeError) Error() string {
	took := e.Elapsed.Round(time.Millisecond).String()
	if e.Timeout() {
		return "coap: dtls handshake with " + e.Addr + " timed out after " + took
	}
	return "coap: dtls handshake with " + e.Addr + " failed after " + took + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Timeout reports a handshake that ran out of time: the server never
// answered, or a flight was lost too often.
func (e *HandshakeError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }

// Kind returns "dtls_handshake_timeout" or "dtls_handshake".
func (e *HandshakeError) Kind() string {
	if e.Timeout() {
		return "dtls_handshake_timeout"
	}
	return "dtls_handshake"
}
