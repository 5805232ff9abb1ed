package scenarios

import (
	"net/url"
	"strings"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
	"github.com/m2msim/m2msim/transports/wsdev"
)

// Protocols of HTTP devices and raw WebSocket devices.
const (
	ProtocolHTTP      = "http"
	ProtocolWebSocket = "websocket"
)

// HTTP is an http group's client: how it connects, encodes and polls.
type HTTP struct {
	// KeepAlive keeps one connection per device (true by default);
	// false opens a connection per request.
	KeepAlive *bool `yaml:"keepalive"`
	// ContentType of telemetry and replies: json (as the payload template
	// renders) or cbor (the rendered JSON re-encoded as CBOR).
	ContentType string `yaml:"content_type"`
	// Poll fetches commands every Poll; LongPoll instead holds a poll
	// open that long (?wait=) and polls again as soon as it returns.
	Poll     time.Duration `yaml:"poll,omitempty"`
	LongPoll time.Duration `yaml:"long_poll,omitempty"`
	// Timeout bounds each exchange (dial, request, response).
	Timeout time.Duration `yaml:"timeout"`
	// Retries bounds the retries of a request after 429s (each after
	// its Retry-After); 0 never retries.
	Retries int `yaml:"retries"`
}

// WebSocket is a websocket group's socket.
type WebSocket struct {
	// Path is the socket's path, one per device (/ws/{{id}}).
	Path *sim.Template `yaml:"path"`
	// Frames is text or binary.
	Frames string `yaml:"frames"`
	// PongTimeout is how long a keepalive ping waits for its pong before
	// the device counts its session lost.
	PongTimeout time.Duration `yaml:"pong_timeout"`
}

// Faults is backend.faults: the endpoint answers every Nth device request
// with Status, and Retry-After when RetryAfter is set.
type Faults struct {
	Every      int           `yaml:"every"`
	Status     int           `yaml:"status"`
	RetryAfter time.Duration `yaml:"retry_after,omitempty"`
}

// HTTP and WebSocket defaults.
const (
	defaultHTTPPort    = "80"
	defaultHTTPSPort   = "443"
	defaultHTTPPath    = "/telemetry/{{id}}"
	defaultHTTPRequest = "/requests/{{id}}"
	defaultHTTPCommand = endpoint.DefaultCommands + "{{id}}"
	defaultHTTPReply   = "/replies/{{id}}"
	defaultHTTPMethod  = "POST"
	defaultHTTPRetries = 3
	defaultLongPoll    = 30 * time.Second
	defaultWSPath      = endpoint.DefaultWebSocket + "{{id}}"
	contentJSON        = "json"
	contentCBOR        = "cbor"
	framesText         = "text"
	framesBinary       = "binary"
	maxHTTPRetries     = 20
	maxHTTPTimeout     = 10 * time.Minute
	maxHTTPPoll        = 24 * time.Hour
	maxFaultEvery      = 1 << 30
	defaultFaultStatus = 503
)

var (
	httpAddress = address{ports: []string{"http", defaultHTTPPort, "https", defaultHTTPSPort},
		want: "embedded, http://host:port or https://host:port",
		only: "must be only http://host:port (each flow gives its own path)"}
	wsAddress = address{ports: []string{"ws", defaultHTTPPort, "wss", defaultHTTPSPort},
		want: "embedded, ws://host:port or wss://host:port",
		only: "must be only ws://host:port (websocket.path gives the path)"}
)

// IsHTTP reports whether the group speaks HTTP.
func (g *Group) IsHTTP() bool { return g.Protocol == ProtocolHTTP }

// IsWebSocket reports whether the group speaks raw WebSocket.
func (g *Group) IsWebSocket() bool { return g.Protocol == ProtocolWebSocket }

// speaksWeb reports whether the group is served by m2msim's endpoint.
func (g *Group) speaksWeb() bool { return g.IsHTTP() || g.IsWebSocket() }

// httpDefault makes the embedded endpoint the target of HTTP and
// WebSocket groups when the scenario names none, and normalises the
// targets it names.
func (s *Scenario) httpDefault(has func(string) bool) {
	t := &s.Target
	if !has("target.http") && s.Speaks(ProtocolHTTP) {
		t.HTTP = brokerEmbedded
	}
	if !has("target.websocket") && s.Speaks(ProtocolWebSocket) {
		t.WebSocket = brokerEmbedded
	}
	if a, err := httpAddress.normalise(t.HTTP); t.HTTP != "" && err == nil {
		t.HTTP = a
	}
	if a, err := wsAddress.normalise(t.WebSocket); t.WebSocket != "" && err == nil {
		t.WebSocket = a
	}
	if f := s.Backend.Faults; f != nil && !has("backend.faults.status") {
		f.Status = defaultFaultStatus
	}
}

// httpDefaults gives an http or websocket group its client settings and
// each flow its path.
func (g *Group) httpDefaults(has func(string) bool) {
	if g.IsWebSocket() {
		g.wsDefaults(scope(has, "websocket"))
	} else {
		g.httpClientDefaults(scope(has, "http"))
	}
	if t := g.Telemetry; t != nil {
		if !has("telemetry.phase") {
			t.Phase = phaseRandom
		}
		t.Payload = orTemplate(t.Payload, defaultTelemetryPL)
		if g.IsHTTP() {
			t.Path = orTemplate(t.Path, defaultHTTPPath)
			t.Method = orString(t.Method, defaultHTTPMethod)
		}
	}
	if r := g.Requests; r != nil {
		r.Payload = orTemplate(r.Payload, defaultRequestPL)
		if g.IsHTTP() {
			r.Path = orTemplate(r.Path, defaultHTTPRequest)
			r.Method = orString(r.Method, "GET")
		}
	}
	if c := g.Commands; c != nil {
		c.Payload = orTemplate(c.Payload, defaultCommandPL)
		if g.IsHTTP() {
			c.Path = orTemplate(c.Path, defaultHTTPCommand)
			c.ReplyPath = orTemplate(c.ReplyPath, defaultHTTPReply)
		}
	}
}

func (g *Group) httpClientDefaults(has func(string) bool) {
	if g.HTTP == nil {
		g.HTTP = new(HTTP)
	}
	h := g.HTTP
	if h.KeepAlive == nil {
		yes := true
		h.KeepAlive = &yes
	}
	h.ContentType = orString(h.ContentType, contentJSON)
	if !has("timeout") {
		h.Timeout = httpc.DefaultTimeout
	}
	if !has("retries") {
		h.Retries = defaultHTTPRetries
	}
	if g.Commands != nil && !has("poll") && !has("long_poll") {
		h.LongPoll = defaultLongPoll
	}
}

func (g *Group) wsDefaults(has func(string) bool) {
	if g.WebSocket == nil {
		g.WebSocket = new(WebSocket)
	}
	w := g.WebSocket
	w.Path = orTemplate(w.Path, defaultWSPath)
	w.Frames = orString(w.Frames, framesText)
	if !has("pong_timeout") {
		w.PongTimeout = wsdev.DefaultPongTimeout
	}
}

// HTTPAddr returns the HTTP server's host:port, or "" for none or the
// embedded endpoint.
func (t Target) HTTPAddr() string { return webAddr(t.HTTP) }

// WebSocketAddr returns the WebSocket server's host:port, or "" for none
// or the embedded endpoint.
func (t Target) WebSocketAddr() string { return webAddr(t.WebSocket) }

func webAddr(target string) string {
	u, err := url.Parse(target)
	if target == "" || target == brokerEmbedded || err != nil {
		return ""
	}
	return u.Host
}

// HTTPEmbedded reports whether HTTP groups talk to m2msim's endpoint
// directly.
func (t Target) HTTPEmbedded() bool { return t.HTTP == brokerEmbedded }

// WebSocketEmbedded reports whether WebSocket groups talk to m2msim's
// endpoint directly.
func (t Target) WebSocketEmbedded() bool { return t.WebSocket == brokerEmbedded }

// Endpoint reports whether the run starts m2msim's endpoint: when a group
// targets it directly, or backend.listen gives it an address behind
// another server.
func (s *Scenario) Endpoint() bool {
	return s.Target.HTTPEmbedded() || s.Target.WebSocketEmbedded() ||
		s.Backend.Listen != "" && (s.Speaks(ProtocolHTTP) || s.Speaks(ProtocolWebSocket))
}

// endpointServes reports whether m2msim's endpoint sees what g's devices
// send: it is their target, or the server they target forwards to it
// (backend.listen).
func (s *Scenario) endpointServes(g *Group) bool {
	switch {
	case s.Backend.Listen != "":
		return true
	case g.IsHTTP():
		return s.Target.HTTPEmbedded()
	}
	return g.IsWebSocket() && s.Target.WebSocketEmbedded()
}

// httpPlan fills in what an http or websocket group's plan takes from
// the target: a WebSocket device sends everything down its one socket,
// where commands and answers also come, and only the endpoint times.
func (s *Scenario) httpPlan(g *Group, p *sim.Group) {
	p.Untimed = !s.endpointServes(g)
	if g.IsHTTP() {
		p.InlineAnswers = true // a GET's response answers it
		return
	}
	ws := g.WebSocket.Path
	if p.Telemetry != nil {
		p.Telemetry.Topic, p.Telemetry.QoS = ws, 0
	}
	for _, x := range []*sim.Exchange{p.Commands, p.Requests} {
		if x != nil {
			x.Topic, x.ReplyTopic, x.QoS = ws, ws, 0
		}
	}
}

// endpointFaults converts backend.faults.
func (b *Backend) endpointFaults() endpoint.Faults {
	if b.Faults == nil {
		return endpoint.Faults{}
	}
	return endpoint.Faults{Every: b.Faults.Every, Status: b.Faults.Status, RetryAfter: b.Faults.RetryAfter}
}

// secureScheme reports whether target speaks TLS (https://, wss://).
func secureScheme(target string) bool {
	return strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "wss://")
}

// hostOf returns host:port's host.
func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
