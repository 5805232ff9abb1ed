package scenarios

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/endpoint"
)

// validateHTTP checks the HTTP and WebSocket targets, the endpoint's
// settings and every http or websocket group.
func (s *Scenario) validateHTTP(t *tree) {
	http, ws := s.Speaks(ProtocolHTTP), s.Speaks(ProtocolWebSocket)
	checkWebTarget(t, "target.http", s.Target.HTTP, httpAddress, http, "http")
	checkWebTarget(t, "target.websocket", s.Target.WebSocket, wsAddress, ws, "websocket")
	s.Backend.validateEndpoint(t, http || ws)
	for i := range s.Groups {
		g, p := &s.Groups[i], fmt.Sprintf("groups[%d]", i)
		if !g.IsHTTP() && g.HTTP != nil {
			t.add(p+".http", "applies to protocol: http groups only")
		}
		if !g.IsWebSocket() && g.WebSocket != nil {
			t.add(p+".websocket", "applies to protocol: websocket groups only")
		}
		if !g.speaksWeb() {
			continue
		}
		g.validateWeb(t, p, s.endpointServes(g))
	}
}

func checkWebTarget(t *tree, key, target string, a address, speaks bool, protocol string) {
	if target == "" {
		return
	}
	if !speaks {
		t.add(key, "no group speaks %s: add protocol: %s to a group, or remove %s", protocol, protocol, key)
		return
	}
	if _, err := a.normalise(target); err != nil {
		t.add(key, "%v", err)
	}
}

// validateEndpoint checks backend.listen and backend.faults.
func (b *Backend) validateEndpoint(t *tree, used bool) {
	if b.Listen != "" {
		host, port, err := net.SplitHostPort(b.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case !used:
			t.add("backend.listen", "is where m2msim's HTTP endpoint listens: add an http or websocket group, or remove it")
		case err != nil || perr != nil || n < 0 || n > 65535 || host == "":
			t.add("backend.listen", "must be host:port such as 127.0.0.1:18080, got %q", b.Listen)
		}
	}
	f := b.Faults
	if f == nil {
		return
	}
	if !used {
		t.add("backend.faults", "are injected by m2msim's HTTP endpoint: add an http or websocket group, or remove them")
	}
	if f.Every < 1 || f.Every > maxFaultEvery {
		t.add("backend.faults.every", "must be 1 to %d, got %d", maxFaultEvery, f.Every)
	}
	if f.Status < 400 || f.Status > 599 {
		t.add("backend.faults.status", "must be an error status, 400 to 599, got %d", f.Status)
	}
	if f.RetryAfter < 0 {
		t.add("backend.faults.retry_after", "must be >= 0, got %s", f.RetryAfter)
	}
}

// validateWeb checks an http or websocket group; endpoint says whether
// m2msim's endpoint runs, which commands and WebSocket answers need.
func (g *Group) validateWeb(t *tree, p string, endpoint bool) {
	for _, k := range []struct {
		set  bool
		name string
	}{{g.CoAP != nil, "coap"}, {g.DTLS != nil, "dtls"}, {g.LwM2M != nil, "lwm2m"}} {
		if k.set {
			t.add(p+"."+k.name, "applies to protocol: %s groups only", k.name)
		}
	}
	if g.Link.NATTimeout != 0 {
		t.add(p+".link.nat_timeout", "applies to CoAP groups (UDP) only")
	}
	if g.Commands != nil && !endpoint {
		t.add(p+".commands", "need m2msim's endpoint: set target.%s: embedded, or backend.listen for the server in front to forward to", g.Protocol)
	}
	for _, f := range []string{"telemetry", "requests", "commands"} {
		for _, k := range []string{"topic", "reply_topic", "retain", "qos", "confirmable"} {
			if t.has(p+"."+f+"."+k) && !g.webDefault(f, k) {
				t.add(p+"."+f+"."+k, "is MQTT's or CoAP's: the server's response or the socket acknowledges an %s group's messages", g.Protocol)
			}
		}
	}
	if g.IsWebSocket() {
		g.validateWS(t, p, endpoint)
		return
	}
	g.validateHTTPClient(t, p+".http")
	g.validateHTTPFlows(t, p)
}

func (g *Group) validateHTTPClient(t *tree, p string) {
	h := g.HTTP
	if h.ContentType != contentJSON && h.ContentType != contentCBOR {
		t.add(p+".content_type", "must be json or cbor, got %q", h.ContentType)
	}
	if h.Timeout <= 0 || h.Timeout > maxHTTPTimeout {
		t.add(p+".timeout", "must be > 0 and at most %s, got %s", maxHTTPTimeout, h.Timeout)
	}
	if h.Retries < 0 || h.Retries > maxHTTPRetries {
		t.add(p+".retries", "must be 0 to %d, got %d", maxHTTPRetries, h.Retries)
	}
	switch {
	case h.Poll != 0 && h.LongPoll != 0:
		t.add(p+".long_poll", "give poll (an interval) or long_poll (a wait), not both")
	case h.Poll < 0 || h.Poll > maxHTTPPoll:
		t.add(p+".poll", "must be > 0 and at most %s, got %s", maxHTTPPoll, h.Poll)
	case h.LongPoll < 0 || h.LongPoll > endpoint.DefaultMaxWait:
		t.add(p+".long_poll", "must be > 0 and at most %s (the endpoint's longest wait), got %s", endpoint.DefaultMaxWait, h.LongPoll)
	case g.Commands != nil && h.Poll == 0 && h.LongPoll == 0:
		t.add(p+".poll", "required with commands: give poll (an interval) or long_poll (a wait)")
	case g.Commands == nil && (h.Poll != 0 || h.LongPoll != 0):
		t.add(p+".poll", "polls for commands: add commands, or remove poll and long_poll")
	}
}

func (g *Group) validateHTTPFlows(t *tree, p string) {
	if tl := g.Telemetry; tl != nil {
		checkWebPath(t, p+".telemetry.path", tl.Path)
		if tl.Method != "POST" && tl.Method != "PUT" {
			t.add(p+".telemetry.method", "must be POST or PUT, got %q", tl.Method)
		}
	}
	if r := g.Requests; r != nil {
		checkWebPath(t, p+".requests.path", r.Path)
		if r.Method != "GET" {
			t.add(p+".requests.method", "must be GET (the response answers the request), got %q", r.Method)
		}
	}
	if c := g.Commands; c != nil {
		checkPeriod(t, p+".commands", c.Every, c.Jitter)
		checkSize(t, p+".commands.size", c.Size)
		checkDevicePath(t, p+".commands.path", c.Path, endpoint.DefaultCommands)
		checkWebPath(t, p+".commands.reply_path", c.ReplyPath)
	}
}

// checkWebPath checks a path devices send to: not one the endpoint keeps
// for command polls or sockets.
func checkWebPath(t *tree, p string, tpl *sim.Template) {
	switch s := tpl.String(); {
	case !strings.HasPrefix(s, "/"):
		t.add(p, "must start with /, got %q", s)
	case strings.HasPrefix(s, endpoint.DefaultCommands), strings.HasPrefix(s, endpoint.DefaultWebSocket):
		t.add(p, "must not be under %s or %s, which the endpoint keeps for command polls and sockets, got %q",
			endpoint.DefaultCommands, endpoint.DefaultWebSocket, s)
	case strings.ContainsAny(s, "?# "):
		t.add(p, "must be a path only, without ?, # or spaces, got %q", s)
	case tpl.PerMessage():
		t.add(p, perMessageMsg)
	}
}

// checkDevicePath checks a path that names one device under prefix.
func checkDevicePath(t *tree, p string, tpl *sim.Template, prefix string) {
	s := tpl.String()
	rest, ok := strings.CutPrefix(s, prefix)
	switch {
	case !ok || rest == "" || strings.ContainsAny(rest, "/?# "):
		t.add(p, "must be %s and one segment naming the device, such as %s{{id}}, got %q", prefix, prefix, s)
	case tpl.PerMessage():
		t.add(p, perMessageMsg)
	case !tpl.Uses("id") && !tpl.Uses("index") && !tpl.Uses("device"):
		t.add(p, "must use {{id}}, {{index}} or {{device}} so each device gets its own, got %q", s)
	}
}

func (g *Group) validateWS(t *tree, p string, endpoint bool) {
	w := g.WebSocket
	checkDevicePath(t, p+".websocket.path", w.Path, "/ws/")
	if w.Frames != framesText && w.Frames != framesBinary {
		t.add(p+".websocket.frames", "must be text or binary, got %q", w.Frames)
	}
	if w.PongTimeout <= 0 || w.PongTimeout > maxHTTPTimeout {
		t.add(p+".websocket.pong_timeout", "must be > 0 and at most %s, got %s", maxHTTPTimeout, w.PongTimeout)
	}
	for _, f := range []string{"telemetry", "requests", "commands"} {
		for _, k := range []string{"path", "method", "reply_path"} {
			if t.has(p + "." + f + "." + k) {
				t.add(p+"."+f+"."+k, "does not apply: a websocket group sends everything down websocket.path")
			}
		}
	}
	if g.Requests != nil && !endpoint {
		t.add(p+".requests", "need m2msim's endpoint, which answers them down the socket: set target.websocket: embedded, or backend.listen")
	}
	if c := g.Commands; c != nil {
		checkPeriod(t, p+".commands", c.Every, c.Jitter)
		checkSize(t, p+".commands.size", c.Size)
	}
}

// webDefault reports whether flow f's MQTT setting k holds its zero
// value, as the normalised form of a group writes it.
func (g *Group) webDefault(f, k string) bool {
	switch {
	case k != "qos" && k != "retain":
		return false
	case f == "commands":
		return k == "qos" && g.Commands.QoS == 0
	}
	return g.mqttDefault(f, k)
}
