// Package wsdev is a raw WebSocket device (RFC 6455, gorilla/websocket):
// it sends its messages as text or binary frames, takes what the server
// pushes down, and keeps its connection alive with pings, counting a
// pong that does not come in time as a lost session. Every connection is
// dialled through the dial.Func it is given.
//
// One reader goroutine per session. Read buffers are small (Options'
// defaults) and write buffers come from a pool shared by every session,
// so an idle session costs a few KiB (BenchmarkIdleSessions).
package wsdev

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/m2msim/m2msim/transports/dial"
)

// Defaults of Options.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultPongTimeout = 10 * time.Second
	DefaultReadBuffer  = 512
	DefaultWriteBuffer = 512
	// maxFrame bounds a frame the device reads.
	maxFrame = 1 << 20
)

// writePool lends write buffers to every session: a buffer is held only
// while a frame is written.
var writePool = &sync.Pool{}

// Options configures a session. URL and Dial are required.
type Options struct {
	// URL is ws://host:port/path or wss://host:port/path.
	URL  string
	Dial dial.Func
	// TLS configures wss://; nil uses the defaults for the URL's host.
	TLS *tls.Config
	// Binary sends binary frames; text frames otherwise.
	Binary bool
	// Timeout bounds the opening handshake and each write.
	Timeout time.Duration
	// PongTimeout is how long a ping may wait for its pong.
	PongTimeout time.Duration
	// ReadBuffer and WriteBuffer size gorilla's buffers.
	ReadBuffer, WriteBuffer int
	// Message receives each frame the server sends; payload is only
	// valid during the call. Called from the reader goroutine.
	Message func(payload []byte)
	// Lost is called once when the connection ends without Close.
	Lost func(error)
}

func (o *Options) withDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.ReadBuffer <= 0 {
		o.ReadBuffer = DefaultReadBuffer
	}
	if o.WriteBuffer <= 0 {
		o.WriteBuffer = DefaultWriteBuffer
	}
	if o.Message == nil {
		o.Message = func([]byte) {}
	}
	if o.Lost == nil {
		o.Lost = func(error) {}
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
}

// ErrPongTimeout is the loss of a session whose ping went unanswered.
var ErrPongTimeout = errors.New("wsdev: no pong in time")

// ErrClosed is returned by calls on a closed session.
var ErrClosed = errors.New("wsdev: session closed")

// HandshakeError is an opening handshake the server refused with an
// HTTP status. Match it with errors.As.
type HandshakeError struct{ Status int }

// Error names the status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsdev: handshake refused: %d %s", e.Status, http.StatusText(e.Status))
}

// Kind names the status in error counts ("http_503").
func (e *HandshakeError) Kind() string { return fmt.Sprintf("http_%d", e.Status) }

// Session is a connected WebSocket device.
type Session struct {
	o    Options
	c    *websocket.Conn
	kind int

	wmu sync.Mutex // serialises writes
	mu  sync.Mutex // guards closed and pinged
	// closed is set by Close: the reader's end is then no loss.
	closed bool
	// pinged is when the unanswered ping went; zero when none waits.
	pinged time.Time
	done   chan struct{} // closed when the reader exits
}

// Dial opens the WebSocket and starts its reader.
func Dial(ctx context.Context, o Options) (*Session, error) {
	o.withDefaults()
	d := websocket.Dialer{NetDialContext: o.Dial, TLSClientConfig: o.TLS, HandshakeTimeout: o.Timeout,
		ReadBufferSize: o.ReadBuffer, WriteBufferSize: o.WriteBuffer, WriteBufferPool: writePool}
	c, resp, err := d.DialContext(ctx, o.URL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HandshakeError{Status: resp.StatusCode}
		}
		return nil, fmt.Errorf("wsdev: dial %s: %w", o.URL, err)
	}
	c.SetReadLimit(maxFrame)
	s := &Session{o: o, c: c, kind: websocket.TextMessage, done: make(chan struct{})}
	if o.Binary {
		s.kind = websocket.BinaryMessage
	}
	c.SetPongHandler(s.pong)
	go s.read()
	return s, nil
}

// Send writes payload as one frame.
func (s *Session) Send(payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.c.SetWriteDeadline(time.Now().Add(s.o.Timeout)); err != nil {
		return err
	}
	if err := s.c.WriteMessage(s.kind, payload); err != nil {
		return fmt.Errorf("wsdev: write: %w", err)
	}
	return nil
}

// Ping sends a ping; if its pong does not come within PongTimeout the
// session is lost with ErrPongTimeout. A ping while one waits only
// keeps the first one's deadline.
func (s *Session) Ping() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	first := s.pinged.IsZero()
	if first {
		s.pinged = time.Now()
	}
	s.mu.Unlock()
	if first {
		if err := s.c.SetReadDeadline(time.Now().Add(s.o.PongTimeout)); err != nil {
			return err
		}
	}
	if err := s.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.o.Timeout)); err != nil {
		return fmt.Errorf("wsdev: ping: %w", err)
	}
	return nil
}

// pong clears the ping's deadline.
func (s *Session) pong(string) error {
	s.mu.Lock()
	s.pinged = time.Time{}
	s.mu.Unlock()
	return s.c.SetReadDeadline(time.Time{})
}

// read hands frames to Message until the connection ends, then reports
// the loss unless Close ended it.
func (s *Session) read() {
	defer close(s.done)
	for {
		_, p, err := s.c.ReadMessage()
		if err != nil {
			s.end(err)
			return
		}
		s.o.Message(p)
	}
}

// end reports how the reader ended.
func (s *Session) end(err error) {
	s.mu.Lock()
	closed, pinged := s.closed, !s.pinged.IsZero()
	s.closed = true
	s.mu.Unlock()
	s.c.Close()
	if closed {
		return
	}
	var ne net.Error
	if pinged && errors.As(err, &ne) && ne.Timeout() {
		err = ErrPongTimeout
	}
	s.o.Lost(err)
}

// Close sends a close frame, closes the connection and waits for the
// reader; Lost is not called after it.
func (s *Session) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = s.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	err := s.c.Close()
	<-s.done
	if already {
		return nil
	}
	return err
}
