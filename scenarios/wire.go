package scenarios

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"

	"github.com/m2msim/m2msim/transports/kernel"
)

// Link engines: where a run's links are shaped.
const (
	// EngineSocket shapes inside m2msim's sockets (the default).
	EngineSocket = "socket"
	// EngineWire runs the devices in a network namespace of their own,
	// joined to the server's by a userspace netem wire (transports/kernel).
	EngineWire = "wire"
	// EngineKernel shapes with the kernel's own qdiscs.
	EngineKernel = "kernel"
)

// RunLink is the run's link engine, one for the whole run: the groups'
// radio and link profiles say what each device's link does, the engine
// where it is done.
type RunLink struct {
	// Engine is socket (the default), wire or kernel.
	Engine string `yaml:"engine"`
	// Devices is the range the wire's devices take their addresses from
	// (device i has its (i+1)-th host); Server the server namespace's
	// subnet, whose first host is the server's address.
	Devices netip.Prefix `yaml:"devices"`
	Server  netip.Prefix `yaml:"server"`
	// ServerCommand runs the target server (a broker, a CoAP server)
	// inside the server namespace for the run: the way to test a server
	// of your own under the wire engine.
	ServerCommand []string `yaml:"server_command"`
}

// Wire reports whether the run's devices live in a network namespace of
// their own: the wire engine or the kernel engine.
func (s *Scenario) Wire() bool {
	return s.Link != nil && (s.Link.Engine == EngineWire || s.Link.Engine == EngineKernel)
}

// wireServer is the wire's server address (valid once defaulted).
func (l *RunLink) wireServer() netip.Addr { return l.Server.Addr().Next() }

func (l *RunLink) withDefaults(has func(string) bool) {
	if !has("engine") {
		l.Engine = EngineSocket
	}
	if !has("devices") {
		l.Devices = kernel.DefaultDevices
	}
	if !has("server") {
		l.Server = kernel.DefaultServer
	}
	l.Devices, l.Server = l.Devices.Masked(), l.Server.Masked()
}

// wirePrivileged reports whether this process may open the wire; a
// variable so tests can try the message.
var wirePrivileged = hasWireCaps

func (s *Scenario) validateLink(t *tree) {
	l := s.Link
	if l == nil {
		return
	}
	switch l.Engine {
	case EngineSocket:
		if len(l.ServerCommand) > 0 {
			t.add("link.server_command", "runs a server inside the devices' peer namespace: it needs engine: wire or kernel")
		}
		return
	case EngineKernel:
		s.validateKernelLinks(t)
	case EngineWire:
	default:
		t.add("link.engine", "must be %s, %s or %s, got %q", EngineSocket, EngineWire, EngineKernel, l.Engine)
		return
	}
	switch {
	case runtime.GOOS != "linux":
		t.add("link.engine", "%s needs Linux (network namespaces%s), not %s: use engine: socket", l.Engine, needs(l.Engine), runtime.GOOS)
	case !wirePrivileged():
		t.add("link.engine", "%s needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces%s: run as root, or use engine: socket", l.Engine, needs(l.Engine))
	}
	l.validateRanges(t, s.Devices())
	if len(l.ServerCommand) > 0 && strings.TrimSpace(l.ServerCommand[0]) == "" {
		t.add("link.server_command", "must start with the program to run, got %q", l.ServerCommand[0])
	}
	s.validateWireTargets(t)
}

// needs names what an engine makes besides the namespaces.
func needs(engine string) string {
	if engine == EngineKernel {
		return ", a veth pair and qdiscs"
	}
	return " and TUN devices"
}

// maxKernelDevices bounds the shaped devices under the kernel engine:
// each has an HTB class of its own, and a class's netem takes a qdisc
// handle (2..0xFFFF).
const maxKernelDevices = 0xFFFF - 2

// validateKernelLinks checks that every group's link is one the kernel's
// qdiscs can be given through netlink, and that their classes fit.
func (s *Scenario) validateKernelLinks(t *tree) {
	shaped := 0
	for i := range s.Groups {
		g := &s.Groups[i]
		l, ok := g.Shaped()
		if !ok {
			continue
		}
		shaped += g.Count
		if u := kernel.QdiscUnsupported(l); len(u) > 0 {
			p := fmt.Sprintf("groups[%d].link", i)
			if !t.has(p) {
				p = fmt.Sprintf("groups[%d].radio", i)
			}
			t.add(p, "link.engine kernel cannot give the kernel's qdiscs %s: use link.engine: wire, which models them", strings.Join(u, ", "))
		}
	}
	if shaped > maxKernelDevices {
		t.add("link.engine", "kernel gives each shaped device a qdisc class of its own, at most %d; the fleet has %d: use engine: wire", maxKernelDevices, shaped)
	}
}

// validateRanges checks the address ranges: IPv4, apart, and room for
// every device.
func (l *RunLink) validateRanges(t *tree, devices int) {
	ok := true
	for _, r := range []struct {
		key string
		p   netip.Prefix
	}{{"link.devices", l.Devices}, {"link.server", l.Server}} {
		if !r.p.Addr().Is4() || r.p.Bits() > 30 {
			t.add(r.key, "must be an IPv4 range of /30 or wider, got %s", r.p)
			ok = false
		}
	}
	if !ok {
		return
	}
	if l.Devices.Overlaps(l.Server) {
		t.add("link.server", "%s overlaps link.devices %s", l.Server, l.Devices)
	}
	if n := 1<<(32-l.Devices.Bits()) - 2; devices > n {
		t.add("link.devices", "%s has %d addresses, one per device, but the fleet has %d devices: use a wider range", l.Devices, n, devices)
	}
}

// validateWireTargets checks that every server the devices reach is in
// the server namespace: embedded, or at the wire's server address with a
// link.server_command to run it there.
func (s *Scenario) validateWireTargets(t *tree) {
	l, tg := s.Link, &s.Target
	if tg.SourceAddresses > 0 {
		t.add("target.source_addresses", "does not apply with link.engine: wire, where each device has its own address")
	}
	for _, x := range []struct{ key, addr string }{
		{"target.broker", tg.Addr()}, {"target.coap", tg.CoAPAddr()}, {"target.lwm2m", tg.LwM2MAddr()},
		{"target.http", tg.HTTPAddr()}, {"target.websocket", tg.WebSocketAddr()},
	} {
		if x.addr == "" || !s.targetUsed(x.key) {
			continue
		}
		host, _, err := net.SplitHostPort(x.addr)
		if err != nil {
			continue
		}
		a, err := netip.ParseAddr(host)
		switch {
		case err != nil || a != l.wireServer():
			t.add(x.key, "%s is outside the wire's server namespace, which is all its devices can reach: "+
				"a server on the host or network would need IP forwarding and source NAT, which m2msim does not set up. "+
				"Run the server inside the namespace with link.server_command and target %s, or use embedded",
				x.addr, net.JoinHostPort(l.wireServer().String(), portOf(x.addr)))
		case len(l.ServerCommand) == 0:
			t.add(x.key, "%s is the wire's server address, but nothing runs there: give link.server_command (the server to start in the namespace), or use embedded", x.addr)
		}
	}
}

// targetUsed reports whether some group reaches the target at key.
func (s *Scenario) targetUsed(key string) bool {
	switch key {
	case "target.coap":
		return s.Speaks(ProtocolCoAP)
	case "target.lwm2m":
		return s.Speaks(ProtocolLwM2M)
	case "target.http":
		return s.Speaks(ProtocolHTTP)
	case "target.websocket":
		return s.Speaks(ProtocolWebSocket)
	}
	return s.Speaks(ProtocolMQTT)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// listenHost is where embedded servers listen: loopback, or under the
// wire the server's address in its namespace.
func (s *Scenario) listenHost() string {
	if s.Wire() {
		return s.Link.wireServer().String()
	}
	return "127.0.0.1"
}
