package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/kernel"
	"github.com/m2msim/m2msim/transports/netem"
)

// Metrics the wire engine adds to a group's result.
const (
	// MetricTCPRTT is the kernel's smoothed RTT (tcpi_rtt) of each device
	// TCP connection, read when it closes.
	MetricTCPRTT = "tcp_rtt"
	// MetricTCPRetransmits counts the segments the kernel retransmitted
	// (tcpi_total_retrans) over the group's device connections.
	MetricTCPRetransmits = "tcp_retransmits"
	// MetricWireDropped counts packets the wire dropped on the group's
	// links (loss, or a full queue), both directions.
	MetricWireDropped = "wire_dropped"
	// MetricWireUnrouted counts packets of no device (not IPv4, or from
	// outside link.devices); the first group carries it.
	MetricWireUnrouted = "wire_unrouted"
)

// packetNet is what the wire and kernel engines have in common: the
// device and server namespaces, their sockets and a server run inside.
type packetNet interface {
	Dialer(device int) dial.Func
	ServerDialer() dial.Func
	ListenPacketServer(network, addr string) (net.PacketConn, error)
	InServer(fn func() error) error
	Start(cmd *exec.Cmd) error
	ServerNS() string
	Close() error
}

// wireRun is a run's packet-level link engine: the namespaces, the
// wire's forwarding loop (or the kernel's qdiscs), the server it runs in
// the server namespace, and the kernel's figures of every device TCP
// connection.
type wireRun struct {
	s    *Scenario
	w    packetNet
	wire *kernel.Wire // the wire engine's, nil under the kernel engine
	stop context.CancelFunc
	done chan error // the wire's Run result
	srv  *serverCmd // nil without link.server_command
	// handlers holds each device's latest sim.Handler, set as it
	// connects, so its connections' figures go to its group.
	handlers []atomic.Pointer[sim.Handler]
	mu       sync.Mutex // guards open and settled
	open     map[*statConn]struct{}
	settled  bool
}

// openWire removes leftovers of killed runs, opens the run's engine (the
// wire, forwarding, or the kernel's qdiscs) then link.server_command if
// the scenario gives one.
func openWire(ctx context.Context, s *Scenario, seed uint64, log *slog.Logger) (*wireRun, error) {
	e := s.Link.Engine
	if gone, err := kernel.RemoveLeftovers(); err != nil {
		return nil, fmt.Errorf("link.engine %s: remove leftovers: %w", e, err)
	} else if len(gone) > 0 {
		log.Info("removed namespaces of a run that was killed", "namespaces", gone)
	}
	runCtx, stop := context.WithCancel(context.Background())
	wr := &wireRun{s: s, stop: stop, done: make(chan error, 1), open: map[*statConn]struct{}{},
		handlers: make([]atomic.Pointer[sim.Handler], s.Devices())}
	if e == EngineKernel {
		q, err := kernel.OpenQdisc(qdiscConfig(s))
		if err != nil {
			stop()
			return nil, &LinkEngineError{Engine: e, Err: err}
		}
		wr.w = q
		wr.done <- nil
	} else {
		w, err := kernel.Open(kernel.Config{Devices: s.Link.Devices, Server: s.Link.Server, Seed: seed,
			Link: func(device int) netem.Link {
				l, _ := s.groupOf(device).Shaped()
				return l
			}, Shards: runtime.GOMAXPROCS(0)})
		if err != nil {
			stop()
			return nil, &LinkEngineError{Engine: e, Err: err}
		}
		wr.w, wr.wire = w, w
		go func() { wr.done <- w.Run(runCtx) }()
	}
	if len(s.Link.ServerCommand) > 0 {
		var err error
		if wr.srv, err = startServerCmd(ctx, wr.w, s.Link.ServerCommand, wireTargets(s), log); err != nil {
			wr.close()
			return nil, err
		}
	}
	return wr, nil
}

// LinkEngineError is a failure to set up the run's link engine (its
// namespaces, the wire or the qdiscs), before any device starts: a
// matter of the machine, not of the target.
type LinkEngineError struct {
	Engine string
	Err    error
}

// Error names the engine and says what failed, in the kernel package's
// words without its prefix.
func (e *LinkEngineError) Error() string {
	return "link.engine " + e.Engine + ": " + strings.TrimPrefix(e.Err.Error(), "kernel: ")
}

// Unwrap returns the kernel package's error (kernel.ErrNoNetem,
// kernel.ErrPrivilege...).
func (e *LinkEngineError) Unwrap() error { return e.Err }

// qdiscConfig gives every shaped group's devices a class of their own
// each, as the other engines give each device its own link.
func qdiscConfig(s *Scenario) kernel.QdiscConfig {
	c := kernel.QdiscConfig{Devices: s.Link.Devices, Server: s.Link.Server}
	base := 0
	for i := range s.Groups {
		if l, ok := s.Groups[i].Shaped(); ok {
			c.Groups = append(c.Groups, kernel.QdiscGroup{First: base, Count: s.Groups[i].Count, Link: l, PerDevice: true})
		}
		base += s.Groups[i].Count
	}
	return c
}

// wireTargets are the external targets' addresses: in the server
// namespace, where link.server_command serves them (validated).
func wireTargets(s *Scenario) []target {
	var out []target
	if a := s.Target.Addr(); a != "" && s.Speaks(ProtocolMQTT) {
		out = append(out, target{"tcp", a})
	}
	for _, x := range []struct {
		proto, network, addr string
	}{{ProtocolCoAP, "udp", s.Target.CoAPAddr()}, {ProtocolLwM2M, "udp", s.Target.LwM2MAddr()},
		{ProtocolHTTP, "tcp", s.Target.HTTPAddr()}, {ProtocolWebSocket, "tcp", s.Target.WebSocketAddr()}} {
		if x.addr != "" && s.Speaks(x.proto) {
			out = append(out, target{x.network, x.addr})
		}
	}
	return out
}

// dialer returns device's dial.Func: from its own address in the device
// namespace, across the wire, its TCP connections measured.
func (wr *wireRun) dialer(device int, _ uint64) dial.Func {
	d := wr.w.Dialer(device)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			// As net.Dial does: a device's small messages leave at once,
			// not held by Nagle behind an unacknowledged one.
			tc.SetNoDelay(true)
		}
		raw, ok := c.(syscall.Conn)
		h := wr.handler(device)
		if !ok || h == nil || network == "udp" || network == "udp4" {
			return c, nil
		}
		sc := &statConn{Conn: c, raw: raw, wr: wr, h: h}
		if !wr.track(sc) {
			return c, nil
		}
		return sc, nil
	}
}

func (wr *wireRun) handler(device int) sim.Handler {
	if device < 0 || device >= len(wr.handlers) {
		return nil
	}
	if p := wr.handlers[device].Load(); p != nil {
		return *p
	}
	return nil
}

// track adds c to the open connections; false once the run is settled.
func (wr *wireRun) track(c *statConn) bool {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if wr.settled {
		return false
	}
	wr.open[c] = struct{}{}
	return true
}

func (wr *wireRun) untrack(c *statConn) {
	wr.mu.Lock()
	delete(wr.open, c)
	wr.mu.Unlock()
}

// settle reads the figures of the connections still open and records
// the wire's own counts, once.
func (wr *wireRun) settle() {
	wr.mu.Lock()
	if wr.settled {
		wr.mu.Unlock()
		return
	}
	wr.settled = true
	open := make([]*statConn, 0, len(wr.open))
	for c := range wr.open {
		open = append(open, c)
	}
	wr.mu.Unlock()
	for _, c := range open {
		c.record()
	}
	wr.countDrops()
}

// countDrops records each group's dropped packets, and the unrouted
// ones on the first group that has a handler.
func (wr *wireRun) countDrops() {
	if wr.wire == nil {
		return // the kernel's qdiscs count their drops in tc's statistics
	}
	unrouted := wr.wire.Unrouted()
	base := 0
	for i := range wr.s.Groups {
		n := wr.s.Groups[i].Count
		var h sim.Handler
		var dropped int64
		for dev := base; dev < base+n; dev++ {
			st := wr.wire.DeviceStats(dev)
			dropped += st.Up.Dropped + st.Down.Dropped
			if h == nil {
				h = wr.handler(dev)
			}
		}
		base += n
		if h == nil {
			continue
		}
		countN(h, MetricWireDropped, dropped)
		countN(h, MetricWireUnrouted, unrouted)
		unrouted = 0
	}
}

func countN(h sim.Handler, metric string, n int64) {
	for range n {
		h.Count(metric)
	}
}

// close settles the figures, stops the server command, the forwarding
// and removes the namespaces.
func (wr *wireRun) close() error {
	wr.settle()
	var errs []error
	if wr.srv != nil {
		errs = append(errs, wr.srv.stop())
	}
	wr.stop()
	if err := <-wr.done; err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, err)
	}
	errs = append(errs, wr.w.Close())
	return errors.Join(errs...)
}

// statConn is a device TCP connection whose kernel figures are recorded
// when it closes.
type statConn struct {
	net.Conn
	raw  syscall.Conn
	wr   *wireRun
	h    sim.Handler
	once sync.Once
}

// Close records the connection's figures, then closes it.
func (c *statConn) Close() error {
	c.wr.untrack(c)
	c.record()
	return c.Conn.Close()
}

// record reads TCP_INFO once: the smoothed RTT as a latency, the
// retransmitted segments as counts.
func (c *statConn) record() {
	c.once.Do(func() {
		info, err := kernel.TCPStats(c.raw)
		if err != nil {
			return
		}
		if info.RTT > 0 {
			c.h.Measure(MetricTCPRTT, info.RTT)
		}
		countN(c.h, MetricTCPRetransmits, int64(info.TotalRetrans))
	})
}

// wireConnector notes each device's handler before it connects, so the
// wire's figures reach the device's group.
type wireConnector struct {
	next sim.Connector
	wr   *wireRun
}

func (c *wireConnector) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	if spec.Device >= 0 && spec.Device < len(c.wr.handlers) {
		c.wr.handlers[spec.Device].Store(&h)
	}
	return c.next.Connect(ctx, spec, h)
}

// Settle records what the run's link engine measured at the end: under
// the wire, the kernel's figures of the device connections still open
// and the wire's dropped packets. Call it after the engine's Run returns
// and before the result is taken; Close does it too, once.
func (rt *Runtime) Settle() {
	if rt.wire != nil {
		rt.wire.settle()
	}
}

// inServer runs fn where embedded servers listen: in the wire's server
// namespace, or here.
func (rt *Runtime) inServer(fn func() error) error {
	if rt.wire != nil {
		return rt.wire.w.InServer(fn)
	}
	return fn()
}

// serverDeadline bounds how long link.server_command may take to listen.
const serverDeadline = 10 * time.Second
