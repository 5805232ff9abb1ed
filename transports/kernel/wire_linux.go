package kernel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/m2msim/m2msim/transports/netem"
)

// Wire is a userspace netem wire between a device namespace and a server
// namespace (see the package doc). Open makes it, Run forwards packets,
// Close removes everything Open made. Its methods are safe for concurrent
// use.
type Wire struct {
	cfg     Config
	devName string
	srvName string
	devNS   netns.NsHandle
	srvNS   netns.NsHandle
	devTUN  *os.File
	srvTUN  *os.File
	shaper  *netem.Shaper
	server  netip.Addr
	running atomic.Bool
	dropped atomic.Int64 // packets of no device: not IPv4, or outside the range
	mu      sync.Mutex   // guards paths
	paths   map[int]*netem.Path
	closeMu sync.Mutex // guards closed
	closed  bool
}

// Open removes leftovers of dead runs, then creates the namespaces and
// TUN devices of a new wire and configures them. On error, whatever it
// made is removed again.
func Open(cfg Config) (w *Wire, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := RemoveLeftovers(); err != nil {
		return nil, err
	}
	server, _ := nthHost(cfg.Server, 0)
	w = &Wire{cfg: cfg, server: server, devNS: netns.None(), srvNS: netns.None(), paths: map[int]*netem.Path{}}
	w.devName, w.srvName = nsNames()
	made := w // the error returns below set w to nil
	defer func() {
		if err != nil {
			made.Close()
			w = nil
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				err = fmt.Errorf("%w: %w", ErrPrivilege, err)
			}
		}
	}()
	if w.devNS, err = newNamed(w.devName); err != nil {
		return nil, err
	}
	if w.srvNS, err = newNamed(w.srvName); err != nil {
		return nil, err
	}
	if w.devTUN, err = openTUN(w.devNS, devTUN); err != nil {
		return nil, err
	}
	if w.srvTUN, err = openTUN(w.srvNS, srvTUN); err != nil {
		return nil, err
	}
	first, _ := nthHost(cfg.Devices, 0)
	if err = configure(w.devNS, nsConfig{tun: devTUN, local: cfg.Devices, route: cfg.Server, src: first}); err != nil {
		return nil, fmt.Errorf("%s: %w", w.devName, err)
	}
	srv := netip.PrefixFrom(server, cfg.Server.Bits())
	if err = configure(w.srvNS, nsConfig{tun: srvTUN, addr: srv, route: cfg.Devices, src: server}); err != nil {
		return nil, fmt.Errorf("%s: %w", w.srvName, err)
	}
	w.shaper = netem.NewShaper(cfg.Shards)
	return w, nil
}

// DeviceNS and ServerNS return the namespaces' names (in /run/netns).
func (w *Wire) DeviceNS() string { return w.devName }

// ServerNS returns the server namespace's name (in /run/netns).
func (w *Wire) ServerNS() string { return w.srvName }

// ServerAddr is the server's address in the server namespace.
func (w *Wire) ServerAddr() netip.Addr { return w.server }

// DeviceAddr is device i's address: the (i+1)-th of the devices range.
func (w *Wire) DeviceAddr(i int) (netip.Addr, error) {
	a, ok := nthHost(w.cfg.Devices, i)
	if !ok {
		return netip.Addr{}, fmt.Errorf("kernel: device %d: outside %s (%d addresses)", i, w.cfg.Devices, hostCount(w.cfg.Devices))
	}
	return a, nil
}

// Stats sums the counters of every device's Path.
func (w *Wire) Stats() netem.Stats { return w.shaper.Stats() }

// Unrouted counts packets the wire dropped because they belong to no
// device: not IPv4, or from (to) an address outside the devices range.
func (w *Wire) Unrouted() int64 { return w.dropped.Load() }

// Run forwards packets between the TUN devices until ctx ends, then
// returns after its goroutines (the shaper's shards and one reader per
// TUN). Cancellation is not an error.
func (w *Wire) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("kernel: wire already running")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = w.shaper.Run(ctx) })
	wg.Go(func() { errs[1] = w.forward(ctx, w.devTUN, netem.Up); cancel() })
	wg.Go(func() { errs[2] = w.forward(ctx, w.srvTUN, netem.Down); cancel() })
	wg.Wait()
	return errors.Join(errs...)
}

// Close removes the namespaces and closes the TUN fds (which deletes the
// TUN devices). It is safe to call more than once, after a failed Open,
// and while Run runs (Run then returns). Sockets still open in a
// namespace keep it alive, unnamed, until they close.
func (w *Wire) Close() error {
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	for _, f := range []*os.File{w.devTUN, w.srvTUN} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	for _, h := range []netns.NsHandle{w.devNS, w.srvNS} {
		if h.IsOpen() {
			errs = append(errs, h.Close())
		}
	}
	for _, name := range []string{w.devName, w.srvName} {
		if name != "" {
			errs = append(errs, deleteNamed(name))
		}
	}
	return errors.Join(errs...)
}
