package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/lwm2m"
	lwm2mserver "github.com/m2msim/m2msim/transports/lwm2m/server"
)

// maxLwM2MWrites bounds the command Writes under way at once; past it
// Publish waits for a slot, within its deadline.
const maxLwM2MWrites = 1024

// lwm2mBackend is the embedded LwM2M server as the backend of lwm2m
// groups: it hands the engine what devices Send, writes their commands
// and runs the firmware campaigns.
//
// Its goroutines are the command Writes (at most maxLwM2MWrites, each
// bounded by the write timeout) and, per group with a campaign, a
// scheduler and its updates (at most the group's concurrency); all end
// when close cancels their context, and close waits for them.
type lwm2mBackend struct {
	s    *Scenario
	seed uint64 // the run's: it draws each device's update time
	srv  *lwm2mserver.Server
	log  *slog.Logger

	deliver atomic.Pointer[func(sim.Delivery)]
	writes  chan struct{} // a slot per Write under way
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started sync.Once
	// begun is when the run, and so the campaigns' clock, started: unix
	// nanoseconds, 0 before.
	begun atomic.Int64
}

// openLwM2M starts the embedded LwM2M server, sized and timed for the
// fleet: its awake time is the queue-mode groups' longest, its firmware
// image the campaigns'. When groups speak DTLS it listens for DTLS too,
// with their key.
func (rt *Runtime) openLwM2M(s *Scenario, seed uint64, dtls []*dtlsGroup, log *slog.Logger) error {
	c := lwm2mserver.Config{Seed: seed}
	n, secure := 0, 0
	for i := range s.Groups {
		g := &s.Groups[i]
		if !g.IsLwM2M() {
			continue
		}
		n += g.Count
		if g.DTLS != nil {
			secure += g.Count
		}
		if g.LwM2M.Queue {
			c.AwakeTime = max(c.AwakeTime, g.LwM2M.Awake)
		}
		if f := g.LwM2M.Firmware; f != nil {
			c.FirmwareSize = int(f.Image)
		}
	}
	c.MaxRegistrations, c.MaxPending = n+1024, 4*n+1024
	if secure > 0 {
		key, err := sharedKey(s, dtls, ProtocolLwM2M)
		if err != nil {
			return err
		}
		// As for the embedded CoAP server: the whole fleet may handshake
		// at once, each holding its slot for seconds over a slow link.
		c.DTLS = &coapserver.DTLSConfig{Key: key, MaxSessions: secure + 1024, MaxHandshakes: min(secure, 4096)}
	}
	var srv *lwm2mserver.Server
	err := rt.inServer(func() (err error) {
		srv, err = lwm2mserver.Start(net.JoinHostPort(s.listenHost(), "0"), log, c)
		return err
	})
	if err != nil {
		return fmt.Errorf("start embedded LwM2M server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt.lwm2m = &lwm2mBackend{s: s, seed: seed, srv: srv, log: log, writes: make(chan struct{}, maxLwM2MWrites), ctx: ctx, cancel: cancel}
	rt.LwM2MAddr = srv.Addr()
	return nil
}

// subscribe hands every Send's string values to deliver, and starts the
// firmware campaigns: the run starts now.
func (b *lwm2mBackend) subscribe(deliver func(sim.Delivery)) {
	b.deliver.Store(&deliver)
	b.srv.OnSend(func(ep string, recs []lwm2m.Record, arrived time.Time) {
		for _, r := range recs {
			if r.Value.Type() == lwm2m.TypeString {
				deliver(sim.Delivery{Topic: ep + r.Path.String(), Payload: []byte(r.Value.Str()), Arrived: arrived})
			}
		}
	})
	b.started.Do(b.campaigns)
}

// endpoint returns fleet device dev's endpoint name, its client ID, as
// the engine renders it.
func (s *Scenario) endpoint(dev int) string {
	base := 0
	for i := range s.Groups {
		g := &s.Groups[i]
		if dev < base+g.Count {
			return g.ClientID.Render(&sim.Vars{Index: dev - base, Device: dev, Group: g.Name})
		}
		base += g.Count
	}
	return ""
}

// publish writes a command to the device its token names, at the
// resource m.Topic, without waiting: the device's 2.04 becomes the
// reply the engine awaits, and a Write that fails (an error code, a
// timeout, a device not registered) fails the command by its kind.
func (b *lwm2mBackend) publish(ctx context.Context, m sim.Outbound) error {
	tok, ok := sim.FindToken(m.Payload)
	if !ok {
		return errors.New("lwm2m: a command without a measurement token names no device")
	}
	p, err := lwm2m.ParsePath(m.Topic)
	if err != nil {
		return fmt.Errorf("lwm2m: command resource %q: %w", m.Topic, err)
	}
	select {
	case b.writes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	ep, payload := b.s.endpoint(int(tok.Device)), slices.Clone(m.Payload)
	tok.Kind = sim.TokenReply
	reply := tok.Append(nil)
	if tok.Intended < 0 {
		reply = tok.AppendShort(nil)
	}
	timeout := b.writeTimeout(m.Group)
	b.wg.Add(1)
	go func() {
		defer func() { <-b.writes; b.wg.Done() }()
		ctx, cancel := context.WithTimeout(b.ctx, timeout)
		defer cancel()
		resp, err := b.srv.Write(ctx, ep, p, lwm2m.FormatText, payload, false)
		if err == nil && !resp.Success() {
			err = &coap.ResponseError{Code: resp.Code}
		}
		if err != nil && b.ctx.Err() != nil {
			return // the run is over: the Write was cut short, not refused
		}
		if d := b.deliver.Load(); d != nil {
			(*d)(sim.Delivery{Topic: ep + p.String(), Payload: reply, Arrived: time.Now(), Err: err})
		}
	}()
	return nil
}

// writeTimeout bounds a command's Write: the server's retransmissions
// (93 s at most), and for a queue-mode device the wait for its next
// Update too, which its lifetime bounds.
func (b *lwm2mBackend) writeTimeout(group int) time.Duration {
	const exchange = 93 * time.Second
	if l := b.s.Groups[group].LwM2M; l.Queue {
		return l.Lifetime + exchange
	}
	return exchange
}

// campaigns starts a scheduler for each group with a firmware campaign.
func (b *lwm2mBackend) campaigns() {
	start, base := time.Now(), 0
	b.begun.Store(start.UnixNano())
	end := start.Add(b.s.Duration + b.s.Drain)
	for i := range b.s.Groups {
		g := &b.s.Groups[i]
		if g.IsLwM2M() && g.LwM2M.Firmware != nil {
			b.wg.Add(1)
			go b.campaign(g, base, start, end)
		}
		base += g.Count
	}
}

// campaign updates the firmware of each of g's devices at its seeded
// time in [at, at+spread] after start, at most concurrency at once;
// every update ends by end.
func (b *lwm2mBackend) campaign(g *Group, base int, start, end time.Time) {
	defer b.wg.Done()
	f := g.LwM2M.Firmware
	type due struct {
		at  time.Duration
		dev int
	}
	plan := make([]due, g.Count)
	for i := range plan {
		r := rand.New(rand.NewPCG(b.seed^0xf1a5c0de, uint64(base+i)))
		plan[i] = due{at: f.At + time.Duration(r.Int64N(int64(f.Spread)+1)), dev: base + i}
	}
	slices.SortFunc(plan, func(a, b due) int { return int(a.at - b.at) })
	ctx, cancel := context.WithDeadline(b.ctx, end)
	defer cancel()
	slots := make(chan struct{}, f.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	_, uri := b.srv.Firmware()
	for _, d := range plan {
		select {
		case <-time.After(time.Until(start.Add(d.at))):
		case <-ctx.Done():
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			b.update(ctx, b.s.endpoint(d.dev), uri)
		}()
	}
}

// update runs one device's firmware update, waiting for the device to
// register if it has not yet.
func (b *lwm2mBackend) update(ctx context.Context, ep, uri string) {
	for {
		rep, err := b.srv.UpdateFirmware(ctx, ep, uri)
		if !errors.Is(err, lwm2mserver.ErrNotRegistered) {
			b.log.Debug("lwm2m firmware update", "endpoint", ep, "result", int(rep.Result), "total", rep.Total, "err", err)
			return
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return
		}
	}
}

// since is how long ago the run's campaigns' clock started, or 0 before
// it did.
func (b *lwm2mBackend) since(at time.Duration) time.Duration {
	t := b.begun.Load()
	if t == 0 {
		return 0
	}
	return time.Since(time.Unix(0, t)) - at
}

// close ends the campaigns and the Writes under way, then stops the
// server.
func (b *lwm2mBackend) close() error {
	b.cancel()
	b.wg.Wait()
	return b.srv.Close()
}
