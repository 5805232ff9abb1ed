package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// lwm2mCloseTimeout bounds a device's De-register when its session
// closes.
const lwm2mCloseTimeout = 2 * time.Second

// lwm2mConnector opens LwM2M sessions: one UDP socket per device,
// through the device's own link, registered with the server.
type lwm2mConnector struct {
	addr string
	// secureAddr is the embedded server's DTLS address, for DTLS groups.
	secureAddr string
	seed       uint64
	dial       func(device int, conn uint64) dial.Func
	group      func(device int) *Group
	// origin is when the run's radios started: eDRX paging windows
	// count from it.
	origin time.Time
	// campaign is how long ago a group's campaign (from at) began: the
	// embedded server's clock; nil against another server.
	campaign func(at time.Duration) time.Duration
	s        *Scenario
	// dtls holds the groups' DTLS settings, by group index; nil entries
	// for plain CoAP.
	dtls []*dtlsGroup
	// closing counts the De-registers under way: a session's Close
	// does not wait for its own (the engine closes its devices one
	// after another), the runtime waits for them all.
	closing sync.WaitGroup
}

// Connect dials and registers the device under its client ID, waiting
// for the Register's 2.01: the engine's connect latency covers both.
func (c *lwm2mConnector) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	g := c.group(spec.Device)
	l := g.LwM2M
	s := &lwm2mSession{h: h, format: l.format(), closing: &c.closing}
	if f := l.Firmware; f != nil && c.campaign != nil {
		at := f.At
		s.campaign = func() time.Duration { return c.campaign(at) }
	}
	if l.Queue {
		s.awake = l.Awake
	}
	o := lwm2m.ClientOptions{
		CoAP: coap.Options{
			Addr:        c.addr,
			Dial:        dial.NAT(c.dial(spec.Device, spec.Conn), g.Link.NATTimeout, func() { h.Count("nat_rebind") }),
			DialTimeout: spec.Connect.Timeout,
			Seed:        c.seed,
			Stream:      uint64(spec.Device)<<32 | spec.Conn&0xffffffff,
			OnFrame:     ownFrames(h),
		},
		Endpoint: spec.ClientID,
		Lifetime: l.Lifetime,
		Queue:    l.Queue,
		Hear:     c.hear(g, spec.Device),
		Model: lwm2m.NewModel(lwm2m.Config{Seed: c.seed, Index: uint64(spec.Device), Start: time.Now(),
			Lifetime: l.Lifetime, Binding: "U"}),
		CloseTimeout: lwm2mCloseTimeout,
		OnRegistered: func(d time.Duration) {
			h.Measure("lwm2m_register", d)
			if s.registrations.Add(1) > 1 {
				// After a firmware update, or a server that forgot it.
				h.Count("lwm2m_reregister")
			}
		},
		OnUpdated: func(d time.Duration) {
			h.Measure("lwm2m_update", d)
			s.listened()
		},
		OnRequest:  s.requested,
		OnFirmware: s.firmware,
		OnError:    func(error) { h.Count("lwm2m_registration_failed") },
		OnLost:     h.Lost,
	}
	if f := l.Firmware; f != nil {
		o.FirmwareUpdateTime, o.FirmwareBlockSize = f.Install, int(f.Block)
	}
	g.CoAP.options(&o.CoAP)
	if err := secureSession(c.s, c.dtls, c.secureAddr, &o.CoAP, spec); err != nil {
		return nil, err
	}
	s.secure = o.CoAP.DTLS != nil
	if spec.Connect.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, spec.Connect.Timeout)
		defer cancel()
	}
	cl, err := lwm2m.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	handshook(cl.Session(), h)
	s.mu.Lock()
	s.c = cl
	s.mu.Unlock()
	s.listened()
	return s, nil
}

// hear is device dev's radio as its LwM2M client meets the server's
// datagrams, when its group sleeps: the engine's model of eDRX and PSM
// (sim.Sleep), with the radio's seeded wake-up cost when the device was
// idle. Nil when the group does not sleep: the device always listens.
func (c *lwm2mConnector) hear(g *Group, dev int) func(arrived, lastSent time.Time) time.Time {
	sl := g.Sleep.plan()
	if sl == nil {
		return nil
	}
	phase, wake := sl.PagingPhase(c.seed, dev), g.wake
	var rng *rand.Rand // the reader goroutine's alone
	if wake != nil {
		rng = rand.New(rand.NewPCG(c.seed^0x3a7e, uint64(dev)))
	}
	return func(arrived, lastSent time.Time) time.Time {
		at, idle := sl.Listen(arrived.Sub(c.origin), lastSent.Sub(c.origin), phase)
		if idle && wake != nil {
			at += wake.Min + time.Duration(rng.Int64N(int64(wake.Max-wake.Min)+1))
		}
		return c.origin.Add(at)
	}
}

// lwm2mSession binds an LwM2M client to the engine: telemetry is a Send
// of one string resource holding the rendered payload, acknowledged by
// the server's 2.04. Commands never reach the engine's device: the
// server's Write is answered by the client, and the backend turns the
// answer into the reply. In queue mode the session is the device's
// power model: it sleeps Awake after its last uplink and wakes (with an
// Update) to send.
type lwm2mSession struct {
	h       sim.Handler
	format  lwm2m.Format
	closing *sync.WaitGroup // the connector's
	awake   time.Duration   // queue mode: listening time after an uplink; 0: always listens
	secure  bool            // over DTLS
	// registrations counts the device's successful Registers.
	registrations atomic.Int32

	mu     sync.Mutex // guards the fields below
	c      *lwm2m.Client
	timer  *time.Timer // puts a queue-mode device to sleep
	closed bool
	dlAt   time.Time // when a downloaded package's install began; zero: none
	// campaign is how long ago the group's firmware campaign began; nil
	// without one.
	campaign func() time.Duration
}

// errLwM2MFlow is a flow an lwm2m group does not send (validation keeps
// requests out; command replies are the Writes' responses).
var errLwM2MFlow = errors.New("lwm2m: only telemetry is sent by the device")

// Send reports the payload as the string value of the resource at
// m.Dest with the Send operation.
func (s *lwm2mSession) Send(m sim.Message) error {
	if m.Flow != sim.FlowTelemetry {
		return errLwM2MFlow
	}
	p, err := lwm2m.ParsePath(m.Dest)
	if err != nil {
		return fmt.Errorf("lwm2m: send to %q: %w", m.Dest, err)
	}
	s.wake()
	recs := []lwm2m.Record{{Path: p, Value: lwm2m.String(string(m.Payload))}}
	var done func(coap.Result)
	if ref := m.Ref; ref != 0 {
		done = func(r coap.Result) { s.ended(ref, r) }
	}
	return s.client().Send(s.format, recs, done)
}

func (s *lwm2mSession) client() *lwm2m.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

// ended reports a Send's outcome as coapSession.ended does a request's.
func (s *lwm2mSession) ended(ref sim.Ref, r coap.Result) {
	var timeout *coap.TimeoutError
	switch {
	case r.Err != nil && s.secure && errors.As(r.Err, &timeout) && !timeout.Acked:
		// As for a CoAP device: a DTLS session the server no longer
		// answers is over, and the device handshakes and registers
		// again.
		s.h.Failed(ref, r.Err)
		s.h.Count("dtls_session_lost")
		_ = s.client().Session().Close()
		s.h.Lost(r.Err)
	case r.Err != nil:
		s.h.Failed(ref, r.Err)
	case r.Response == nil || r.Response.Code.Class() == 2:
		s.h.Acked(ref)
	default:
		s.h.Failed(ref, &coap.ResponseError{Code: r.Response.Code})
	}
}

// wake wakes a sleeping queue-mode device before it sends: its Update
// goes first (NSTART 1), after which the server sends what it queued.
func (s *lwm2mSession) wake() {
	if s.awake == 0 {
		return
	}
	c := s.client()
	if c.Asleep() {
		s.h.Count("lwm2m_wake")
		c.Wake()
	}
	s.listened()
}

// listened restarts a queue-mode device's awake time: after its uplinks,
// its Updates and the server's requests.
func (s *lwm2mSession) listened() {
	if s.awake == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed || s.c == nil:
	case s.timer == nil:
		s.timer = time.AfterFunc(s.awake, s.sleep)
	default:
		s.timer.Reset(s.awake)
	}
}

// sleep is the awake timer's function: the device sleeps unless a
// firmware download or install keeps it up.
func (s *lwm2mSession) sleep() {
	c := s.client()
	if c.Updating() {
		s.listened()
		return
	}
	c.Sleep()
}

// requested counts the server's requests by operation and keeps a
// queue-mode device awake while the server talks to it.
func (s *lwm2mSession) requested(op lwm2m.Op, code coap.Code) {
	if op == lwm2m.WriteOp && code.Class() == 2 {
		s.h.Count("lwm2m_write")
	}
	s.listened()
}

// firmware records a campaign's progress on the device: each
// download's duration, each install's, and the outcomes.
func (s *lwm2mSession) firmware(e lwm2m.FirmwareEvent) {
	switch {
	case e.State == lwm2m.FirmwareDownloaded:
		s.h.Measure("lwm2m_fw_download", e.Download)
		s.mu.Lock()
		s.dlAt = time.Now()
		s.mu.Unlock()
	case e.Download > 0 || e.Err != nil || e.State == lwm2m.FirmwareIdle && e.Result != lwm2m.ResultSuccess:
		s.h.Count("lwm2m_fw_failed")
	case e.Result == lwm2m.ResultSuccess:
		s.mu.Lock()
		at := s.dlAt
		s.dlAt = time.Time{}
		s.mu.Unlock()
		if !at.IsZero() {
			s.h.Measure("lwm2m_fw_install", time.Since(at))
		}
		s.h.Count("lwm2m_fw_updated")
		if s.campaign != nil {
			// Its maximum is the campaign's length: from its start to
			// the last device updated.
			s.h.Measure("lwm2m_fw_campaign", s.campaign())
		}
	}
}

// Close de-registers the device and closes its socket, without waiting:
// the De-register takes a round trip over the device's link, at most
// lwm2mCloseTimeout, and the connector's closing group waits for it.
func (s *lwm2mSession) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	c := s.c
	s.mu.Unlock()
	s.closing.Go(func() { _ = c.Close() })
	return nil
}

// wait waits for the De-registers under way.
func (c *lwm2mConnector) wait() { c.closing.Wait() }
