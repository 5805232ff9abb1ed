package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
	"github.com/m2msim/m2msim/transports/wsdev"
)

// webConnector opens the sessions of http and websocket groups: one
// httpc or wsdev session per device, dialled through the device's link.
type webConnector struct {
	s *Scenario
	// httpAddr and wsAddr are the servers' host:port, the secure flags
	// whether they speak TLS.
	httpAddr, wsAddr     string
	httpSecure, wsSecure bool
	dial                 func(device int, conn uint64) dial.Func
	// tls gives a device's TLS configuration for https:// and wss://
	// targets; nil uses the system's roots for the target's host.
	tls func(device int) *tls.Config
}

// tlsFor returns device's TLS configuration, nil when not secure.
func (c *webConnector) tlsFor(device int, secure bool, addr string) *tls.Config {
	switch {
	case !secure:
		return nil
	case c.tls != nil:
		if cfg := c.tls(device); cfg != nil && cfg.ServerName != "" {
			return cfg
		} else if cfg != nil {
			cfg = cfg.Clone() // the target names the server the certificate must match
			cfg.ServerName = hostOf(addr)
			return cfg
		}
	}
	return &tls.Config{ServerName: hostOf(addr)}
}

// Connect opens an http or websocket device's session.
func (c *webConnector) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	g := c.s.groupOf(spec.Device)
	if g.IsWebSocket() {
		return c.connectWS(ctx, g, spec, h)
	}
	hs := &httpSession{h: h, cbor: g.HTTP.ContentType == contentCBOR}
	o := httpc.Options{
		Addr:       c.httpAddr,
		Dial:       c.dial(spec.Device, spec.Conn),
		TLS:        c.tlsFor(spec.Device, c.httpSecure, c.httpAddr),
		KeepAlive:  *g.HTTP.KeepAlive,
		Timeout:    g.HTTP.Timeout,
		MaxRetries: g.HTTP.Retries,
		Status:     hs.status,
		BadPoll:    hs.badPoll,
		Lost:       hs.lost,
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1 // the scenario's 0: never retried
	}
	if t := g.Telemetry; t != nil {
		hs.methods[sim.FlowTelemetry] = t.Method
	}
	hs.methods[sim.FlowRequest] = http.MethodGet
	hs.methods[sim.FlowReply] = http.MethodPost
	s, err := httpc.Dial(ctx, o)
	if err != nil {
		return nil, err
	}
	hs.s = s
	for _, sub := range spec.Subscribe {
		p := httpc.Poll{Path: sub.Topic, Every: g.HTTP.Poll, Wait: g.HTTP.LongPoll}
		if err := s.StartPolling(p, hs.command); err != nil {
			s.Close()
			return nil, err
		}
	}
	return hs, nil
}

// httpSession binds an httpc session to the engine: a message is a
// request, acknowledged by a 2xx or 3xx response.
type httpSession struct {
	s       *httpc.Session
	methods [sim.FlowReply + 1]string
	cbor    bool

	mu sync.Mutex // serialises calls to h: the worker and the poller both report
	h  sim.Handler
}

// Send queues m's request. Its path and body are copied (the body maybe
// re-encoded as CBOR): the engine reuses their bytes after Send.
func (c *httpSession) Send(m sim.Message) error {
	r := httpc.Request{Method: c.methods[m.Flow], Target: strings.Clone(m.Dest)}
	if r.Method != http.MethodGet {
		r.Body, r.ContentType = bytes.Clone(m.Payload), "application/json"
		if c.cbor {
			r.Body, r.ContentType = toCBOR(m.Payload), "application/cbor"
		}
	}
	var done func(httpc.Response, error)
	if ref := m.Ref; ref != 0 {
		done = func(_ httpc.Response, err error) { c.ended(ref, err) }
	}
	return c.s.Start(r, done)
}

// toCBOR re-encodes a JSON payload as CBOR; anything else becomes a CBOR
// byte string. Either way the measurement token's ASCII stays intact.
func toCBOR(payload []byte) []byte {
	var v any
	if json.Unmarshal(payload, &v) == nil {
		if b, err := cbor.Marshal(v); err == nil {
			return b
		}
	}
	b, _ := cbor.Marshal(payload)
	return b
}

// ended reports a request's outcome.
func (c *httpSession) ended(ref sim.Ref, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.h.Failed(ref, err)
		return
	}
	c.h.Acked(ref)
}

// status counts a response by its code.
func (c *httpSession) status(s httpc.Status) {
	c.mu.Lock()
	c.h.Count(s.Metric())
	c.mu.Unlock()
}

// badPoll counts a command poll body the device could not read.
func (c *httpSession) badPoll(error) {
	c.mu.Lock()
	c.h.Count("http_bad_poll")
	c.mu.Unlock()
}

// command passes a polled command to the engine.
func (c *httpSession) command(payload []byte) {
	c.mu.Lock()
	c.h.Message("", payload)
	c.mu.Unlock()
}

// lost reports the end of the device's connection.
func (c *httpSession) lost(err error) {
	c.mu.Lock()
	c.h.Lost(err)
	c.mu.Unlock()
}

// Close ends the session.
func (c *httpSession) Close() error { return c.s.Close() }

// connectWS opens a websocket device's socket.
func (c *webConnector) connectWS(ctx context.Context, g *Group, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	gi, base := c.s.groupIndex(spec.Device)
	v := sim.Vars{ID: spec.ClientID, Index: spec.Device - base, Device: spec.Device, Group: c.s.Groups[gi].Name}
	scheme := "ws://"
	if c.wsSecure {
		scheme = "wss://"
	}
	s, err := wsdev.Dial(ctx, wsdev.Options{
		URL:         scheme + c.wsAddr + g.WebSocket.Path.Render(&v),
		Dial:        c.dial(spec.Device, spec.Conn),
		TLS:         c.tlsFor(spec.Device, c.wsSecure, c.wsAddr),
		Binary:      g.WebSocket.Frames == framesBinary,
		Timeout:     spec.Connect.Timeout,
		PongTimeout: g.WebSocket.PongTimeout,
		Message:     func(p []byte) { h.Message("", p) },
		Lost: func(err error) {
			if err == wsdev.ErrPongTimeout {
				h.Count("ws_pong_missed")
			}
			h.Lost(err)
		},
	})
	if err != nil {
		return nil, err
	}
	return &wsSession{s: s}, nil
}

// wsSession binds a wsdev session to the engine: every message is a
// frame, unacknowledged; answers and commands come down the socket.
type wsSession struct{ s *wsdev.Session }

// Send writes the message's payload as one frame.
func (w *wsSession) Send(m sim.Message) error { return w.s.Send(m.Payload) }

// Ping sends a WebSocket ping.
func (w *wsSession) Ping() error { return w.s.Ping() }

// Close sends a close frame and closes the socket.
func (w *wsSession) Close() error { return w.s.Close() }

// openEndpoint starts m2msim's endpoint for http and websocket groups, on
// backend.listen or a free loopback port, and points the connector at
// it where the groups target it directly.
func (rt *Runtime) openEndpoint(s *Scenario, wc *webConnector, log *slog.Logger) error {
	addr := s.Backend.Listen
	if addr == "" && s.Wire() {
		addr = net.JoinHostPort(s.listenHost(), "0")
	}
	var ep *endpoint.Endpoint
	err := rt.inServer(func() (err error) {
		ep, err = endpoint.Start(endpoint.Options{Addr: addr, Faults: s.Backend.endpointFaults(), Log: log,
			MaxKeys: 2*s.Devices() + 1024})
		return err
	})
	if err != nil {
		return fmt.Errorf("start m2msim's HTTP endpoint: %w", err)
	}
	rt.endpoint, rt.EndpointAddr = ep, ep.Addr()
	if s.Target.HTTPEmbedded() {
		wc.httpAddr = ep.Addr()
	}
	if s.Target.WebSocketEmbedded() {
		wc.wsAddr = ep.Addr()
	}
	return nil
}

// newWebConnector prepares the connector of http and websocket groups.
func newWebConnector(s *Scenario, shaped func(int, uint64) dial.Func) *webConnector {
	return &webConnector{s: s, dial: shaped,
		httpAddr: s.Target.HTTPAddr(), httpSecure: secureScheme(s.Target.HTTP),
		wsAddr: s.Target.WebSocketAddr(), wsSecure: secureScheme(s.Target.WebSocket)}
}

// webTLS prepares the tls blocks of http and websocket groups: each
// device's configuration for its https:// or wss:// target, its client
// certificate issued at its first handshake; nil when no such group has
// one.
func webTLS(s *Scenario) (func(device int) *tls.Config, error) {
	groups := make([]*tlsGroup, len(s.Groups))
	var ca lazyCA
	any := false
	for i := range s.Groups {
		g := &s.Groups[i]
		if g.TLS == nil || !g.IsHTTP() && !g.IsWebSocket() {
			continue
		}
		var err error
		if groups[i], err = g.TLS.prepare(s.Devices(), &ca, s.deviceVars); err != nil {
			return nil, fmt.Errorf("groups[%d]: %w", i, err)
		}
		any = true
	}
	if !any {
		return nil, nil
	}
	return func(dev int) *tls.Config {
		if gi, _ := s.groupIndex(dev); groups[gi] != nil {
			return groups[gi].config(dev)
		}
		return nil
	}, nil
}

// SetDeviceTLS gives http and websocket devices their TLS configuration
// for https:// and wss:// targets, by fleet device index; call it before
// the run. Without it they trust the system's roots.
func (rt *Runtime) SetDeviceTLS(f func(device int) *tls.Config) {
	if rt.web != nil {
		rt.web.tls = f
	}
}

// webLoopback reports whether the http or websocket target is m2msim's
// endpoint or on a loopback address.
func (t Target) webLoopback() bool {
	return t.HTTPEmbedded() || t.WebSocketEmbedded() || loopback(t.HTTPAddr()) || loopback(t.WebSocketAddr())
}
