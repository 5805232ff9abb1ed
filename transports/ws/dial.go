package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/transports/dial"
)

// Subprotocol is the WebSocket subprotocol of MQTT ([MQTT-6.0.0-3]).
const Subprotocol = "mqtt"

// ReadBufferSize is each connection's read buffer unless Options says
// otherwise. gorilla keeps it for the connection's life (4 KiB by
// default), so an idle device pays for it: 512 bytes holds a frame header
// and a few telemetry-sized messages per read, and a larger payload is
// read past the buffer straight into the caller's slice.
const ReadBufferSize = 512

// writeBufferSize is the size of the pooled write buffers. A connection
// holds one only while it writes a message, so idle devices share a few;
// a message larger than this goes out as several frames.
const writeBufferSize = 4096

// writeBuffers is the one pool behind every connection's writes: gorilla
// wants a pool per buffer size.
var writeBuffers = &sync.Pool{}

// Defaults of Options.
const (
	defaultHandshakeTimeout = 10 * time.Second
	defaultCloseTimeout     = time.Second
)

// Options configures a client connection. The zero value dials ws:// and
// wss:// (TLS checked against the system's roots) with subprotocol mqtt.
type Options struct {
	// TLS configures wss:// connections; nil verifies the server against
	// the system's roots. ServerName defaults to the URL's host.
	TLS *tls.Config
	// Subprotocol is asked for in the handshake and must be the one the
	// server picks (default mqtt).
	Subprotocol string
	// ReadBufferSize is the connection's read buffer (default
	// ReadBufferSize; at least 125, the largest control frame).
	ReadBufferSize int
	// HandshakeTimeout bounds the dial, the TLS handshake and the HTTP
	// upgrade when ctx has no sooner deadline (default 10s).
	HandshakeTimeout time.Duration
	// CloseTimeout bounds how long the close frame may take to go out
	// after Close, which itself returns at once (default 1s).
	CloseTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Subprotocol == "" {
		o.Subprotocol = Subprotocol
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = ReadBufferSize
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = defaultHandshakeTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = defaultCloseTimeout
	}
	return o
}

// HandshakeError is a server's refusal to upgrade: the HTTP status it
// answered with (0 when the answer was no HTTP response at all).
type HandshakeError struct {
	URL    string
	Status int
}

// Error names the URL and the status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("ws: %s refused the upgrade: HTTP status %d", e.URL, e.Status)
}

// SubprotocolError is an upgrade to another subprotocol than the one
// asked for (Got is empty when the server named none).
type SubprotocolError struct {
	Want, Got string
}

// Error names both subprotocols.
func (e *SubprotocolError) Error() string {
	return fmt.Sprintf("ws: server chose subprotocol %q, want %q", e.Got, e.Want)
}

// ParseURL checks that raw is a ws:// or wss:// URL with a host, and
// returns it parsed.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ws: bad URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("ws: URL %q: scheme must be ws or wss", raw)
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return nil, fmt.Errorf("ws: URL %q has no host", raw)
	}
	return u, nil
}

// Dial opens a WebSocket connection to rawURL (ws:// or wss://) through
// d (nil: a plain net.Dialer): TCP from d, then TLS for wss://, then the
// HTTP upgrade asking for o.Subprotocol.
func Dial(ctx context.Context, d dial.Func, rawURL string, o Options) (*Conn, error) {
	o = o.withDefaults()
	if _, err := ParseURL(rawURL); err != nil {
		return nil, err
	}
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	wd := websocket.Dialer{
		NetDialContext:  d,
		TLSClientConfig: o.TLS,
		Subprotocols:    []string{o.Subprotocol},
		ReadBufferSize:  o.ReadBufferSize,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: writeBuffers,
	}
	c, resp, err := wd.DialContext(ctx, rawURL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if errors.Is(err, websocket.ErrBadHandshake) {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, &HandshakeError{URL: rawURL, Status: status}
	}
	if err != nil {
		return nil, fmt.Errorf("ws: dial %s: %w", rawURL, err)
	}
	if got := c.Subprotocol(); got != o.Subprotocol {
		c.NetConn().Close()
		return nil, &SubprotocolError{Want: o.Subprotocol, Got: got}
	}
	return NewConn(c, o.CloseTimeout), nil
}

// Over returns a dial.Func that opens WebSocket connections through d:
// its address argument is the ws:// or wss:// URL, and its network
// argument is ignored. A session that takes a dial.Func and an address
// (mqtt.Options{Addr: url, Dial: ws.Over(d, o)}) speaks over WebSocket
// unchanged.
func Over(d dial.Func, o Options) dial.Func {
	return func(ctx context.Context, _, rawURL string) (net.Conn, error) {
		c, err := Dial(ctx, d, rawURL, o)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
