// Package ws carries a byte stream, such as an MQTT session's, over a
// WebSocket connection (RFC 6455): MQTT over WebSocket, subprotocol mqtt,
// ws:// and wss:// (MQTT 3.1.1 section 6).
//
// Conn is a net.Conn whose writes become binary messages and whose reads
// run across message boundaries, so a packet split over frames and a frame
// holding several packets both read as one stream. Dial opens it through a
// dial.Func, so link shaping and source address pools compose underneath
// (TLS, for wss://, runs over the shaped connection); Over turns a
// dial.Func into one that dials WebSocket URLs, for sessions that take a
// dial.Func and an address.
package ws

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrTextMessage is the error of a read that met a text message: MQTT
// over WebSocket sends binary messages only ([MQTT-6.0.0-1]).
var ErrTextMessage = errors.New("ws: text message on a binary stream")

// CloseError is the close frame the peer sent, when its status code is
// not a normal closure (which reads as io.EOF): the code and the reason.
// It unwraps to io.EOF, the end of the stream.
type CloseError struct {
	Code int
	Text string
}

// Error says who closed the stream, with the code and reason.
func (e *CloseError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("ws: closed by peer (%d)", e.Code)
	}
	return fmt.Sprintf("ws: closed by peer (%d %s)", e.Code, e.Text)
}

// Unwrap returns io.EOF: the peer ended the stream.
func (e *CloseError) Unwrap() error { return io.EOF }

// Conn is a net.Conn over a WebSocket connection, safe for concurrent use
// as net.Conn requires (reads are serialised, and so are writes). Unlike
// a TCP conn, a failed read or write, a passed deadline included, ends
// that direction for good: gorilla cannot resume a frame it stopped in,
// and keeps the first error. (Of x/net/nettest's conformance checks,
// PastTimeout, FutureTimeout and ConcurrentMethods fail for that reason
// alone; the others pass.) MQTT sessions need no more: a missed deadline
// ends them anyway.
type Conn struct {
	ws           *websocket.Conn
	closeTimeout time.Duration

	rmu  sync.Mutex // serialises reads (gorilla allows one reader at a time); guards r and rerr
	r    io.Reader  // the current message; nil between messages
	rerr error      // why reading ended; nil while it goes on

	// wdl is the write deadline (UnixNano; 0 for none). gorilla keeps
	// its own in a plain field that each write reads, so it may be set
	// only under wmu; setters store here and reach a pending write
	// through the socket.
	wdl atomic.Int64
	wmu sync.Mutex // serialises writes: gorilla allows one writer at a time

	broken    atomic.Bool // a read or write failed, or Close ran: no close frame can follow
	closeOnce sync.Once
}

// NewConn wraps an open WebSocket connection. Close sends a close frame,
// giving the socket at most closeTimeout to take it (0: no close frame).
// Each side of a connection (Dial's client, a server's upgraded conn)
// wraps its own.
func NewConn(c *websocket.Conn, closeTimeout time.Duration) *Conn {
	return &Conn{ws: c, closeTimeout: closeTimeout}
}

// Read reads from the current binary message, moving on to the next when
// it ends; empty messages are skipped.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil {
		return 0, c.rerr
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, c.failRead(err)
			}
			if typ != websocket.BinaryMessage {
				return 0, c.failRead(ErrTextMessage)
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		if err != nil {
			return n, c.failRead(err)
		}
		return n, nil
	}
}

// failRead ends reading for good: gorilla panics when a failed
// connection is read again and again, so Read never asks it twice.
func (c *Conn) failRead(err error) error {
	c.broken.Store(true)
	c.r = nil
	c.rerr = c.streamErr("read", err)
	return c.rerr
}

// Write sends b as one binary message, fragmented into frames of the
// write buffer's size when it is larger. It honours the write deadline.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var dl time.Time
	if ns := c.wdl.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	c.ws.SetWriteDeadline(dl)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.broken.Store(true)
		return 0, c.streamErr("write", err)
	}
	return len(b), nil
}

// streamErr gives an error from gorilla the forms net.Conn users test: a
// *net.OpError (a net.Error whose Timeout reports a deadline, which
// gorilla hides, and that unwraps to os.ErrDeadlineExceeded), io.EOF
// for the peer's normal closure, *CloseError for another close code.
func (c *Conn) streamErr(op string, err error) error {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseNoStatusReceived):
		return io.EOF
	case errors.As(err, &ce):
		return &CloseError{Code: ce.Code, Text: ce.Text}
	case errors.Is(err, io.EOF):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("connection ended mid-frame: %w", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = os.ErrDeadlineExceeded
	}
	return &net.OpError{Op: op, Net: "ws", Source: c.ws.LocalAddr(), Addr: c.ws.RemoteAddr(), Err: err}
}

// aLongTimeAgo is a deadline that has passed, to wake a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// Close ends the connection without blocking: it wakes a blocked Read at
// once and, unless the stream has failed, sends a close frame (1000,
// normal closure) from a goroutine that then closes the socket. That
// goroutine lives at most the close timeout, however stuck the socket
// is: sessions are closed by the thousand from a few goroutines, and one
// full socket buffer must not hold up the rest. Later calls do nothing.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	c.ws.SetReadDeadline(aLongTimeAgo)
	if c.broken.Swap(true) || c.closeTimeout <= 0 {
		if err := c.ws.NetConn().Close(); err != nil {
			return fmt.Errorf("ws: close: %w", err)
		}
		return nil
	}
	go c.closeFrame()
	return nil
}

// closeFrame sends the close frame, waiting at most the close timeout
// for the write lock and the socket, and closes the socket.
func (c *Conn) closeFrame() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.closeTimeout)) // best effort
	c.ws.NetConn().Close()
}

// LocalAddr is the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr is the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of reads (and of control frames the
// read answers, such as pongs).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writes, a pending one included.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.wdl.Store(ns)
	return c.ws.NetConn().SetWriteDeadline(t)
}
