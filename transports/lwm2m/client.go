package lwm2m

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// ClientOptions configures a device client. CoAP.Addr, Endpoint and
// Model are required; the rest has defaults (withDefaults).
type ClientOptions struct {
	// CoAP configures the session the client dials: Addr (the server),
	// Dial (shaping, source pools and NAT compose there), Seed and
	// Stream, the transmission parameters, Counters. Handler and Lost
	// are the client's own and are overwritten.
	CoAP coap.Options

	Endpoint string        // ep
	Lifetime time.Duration // lt, whole seconds (default 86400s)
	Binding  string        // b (default "U")
	// Queue registers in queue mode (the Q parameter of LwM2M 1.1): the
	// server holds its requests until the device's next Register or
	// Update. Sleep and Wake tie it to a power model.
	Queue bool
	// Hear, when set, is the device's radio: it returns when the device
	// hears a datagram that reached its socket at arrived, its latest
	// uplink having left at lastSent (arrived itself when it listens;
	// later between eDRX paging windows or in PSM). Such a datagram is
	// held until then, or until the device next sends. Sleep then no
	// longer drops what arrives: it only marks the device asleep, so
	// that its next uplink wakes it with an Update. Hear runs on the
	// session's reader goroutine.
	Hear func(arrived, lastSent time.Time) time.Time
	// Model is the device's object tree. The client owns it from Start
	// on: it locks around every call it makes, and the caller must not
	// call it directly while the client runs. The client advances it to
	// the wall clock, one Config.Step at a time from Config.Start: give
	// it a Start near the client's, or the first Advance walks every
	// step since 2026-01-01.
	Model *Model

	// UpdateAt is the share of the lifetime after which the client
	// renews its registration (default 0.9).
	UpdateAt float64
	// CheckEvery is how often the client advances the Model and checks
	// its observations while a server observes something (default 1s).
	CheckEvery time.Duration
	// RetryDelay is how long the client waits before it tries again
	// after a failed Register or Update (default 10s).
	RetryDelay time.Duration
	// CloseTimeout bounds the De-register exchange of Close (default 5s).
	CloseTimeout time.Duration
	// NonConfirmableNotify sends notifications non-confirmable. By
	// default they are confirmable, so that an observer that left is
	// learnt of by its RST (RFC 7641 §3.6) and the observation dropped.
	NonConfirmableNotify bool
	// MaxObservations bounds the observations a device keeps (default
	// 16); past it an Observe is answered without an Observe option (RFC
	// 7641 §4.1: the server learns it is not registered).
	MaxObservations int
	// FirmwareUpdateTime is how long installing a downloaded package
	// takes after Execute on /5/0/2 (default 0: at once).
	FirmwareUpdateTime time.Duration
	// FirmwareBlockSize is the block size asked for when downloading a
	// package (default 0: the server's choice).
	FirmwareBlockSize int

	// The callbacks through which the caller records figures. Each may
	// be nil. They run on the session's reader goroutine or the
	// client's timer goroutine, never while the client holds its lock,
	// and must not block.
	OnRegistered func(latency time.Duration) // a Register answered 2.01
	OnUpdated    func(latency time.Duration) // an Update answered 2.04
	OnRequest    func(op Op, code coap.Code) // a server's request answered
	OnNotify     func(p Path)                // a notification sent
	OnFirmware   func(e FirmwareEvent)       // a download or update ended
	OnError      func(err error)             // a Register or Update failed
	OnLost       func(err error)             // the session's socket failed
}

// FirmwareEvent reports the end of a firmware download or update: the
// state and result the Firmware Update object went to, and for a
// download how long it took and how many bytes came.
type FirmwareEvent struct {
	State    FirmwareState
	Result   UpdateResult
	Download time.Duration // zero for an update
	Bytes    int64
	Err      error // why a download failed, if it did
}

func (o ClientOptions) withDefaults() ClientOptions {
	o.Lifetime = orDefault(o.Lifetime, 86400*time.Second)
	o.Binding = orDefault(o.Binding, "U")
	if o.UpdateAt <= 0 || o.UpdateAt >= 1 {
		o.UpdateAt = 0.9
	}
	o.CheckEvery = orDefault(o.CheckEvery, time.Second)
	o.RetryDelay = orDefault(o.RetryDelay, 10*time.Second)
	o.CloseTimeout = orDefault(o.CloseTimeout, 5*time.Second)
	o.MaxObservations = orDefault(o.MaxObservations, 16)
	return o
}

// RegistrationError reports a Register, Update or De-register the server
// answered with an error code. Match it with errors.As and a
// *RegistrationError target.
type RegistrationError struct {
	Op   string // "register", "update" or "deregister"
	Code coap.Code
}

// Error names the operation and the code.
func (e *RegistrationError) Error() string {
	return "lwm2m: " + e.Op + " answered " + e.Code.String()
}

// Client is one LwM2M 1.1 device: a coap.Session to its server, the
// registration it keeps alive, and the answers to the server's Device
// Management and Information Reporting requests, taken from its Model.
//
// It costs the session's reader goroutine and runtime timer, plus one
// time.AfterFunc timer of its own, armed for the earliest of: the
// registration's renewal, the next observation check, the end of a
// firmware install. Its goroutine exists only while it runs. A
// firmware download from another server than the registration's costs
// a second, transient session.
type Client struct {
	o    ClientOptions
	s    *coap.Session
	gate *gate
	quit chan struct{} // closed when the client ends (Close, or the session lost)

	mu sync.Mutex // guards the fields below and o.Model
	m  *Model
	// reg is what the server has registered; location its Location-Path.
	reg          Registration
	location     []string
	registered   bool
	inflight     bool // a Register or Update exchange is under way
	again        bool // another Update is wanted once it ends
	linksChanged bool // objects were created or deleted since the last Update
	updateDue    time.Time
	timer        *time.Timer
	closed       bool
	obs          []*observation
	checkDue     time.Time // the next observation check; zero: none
	fw           firmwareTask
	calls        []func() // callbacks due once mu is released (unlock)
}

// Start dials the server, registers the device (POST /rd, waiting for
// the answer within ctx) and returns the running client. It fails, with
// the session closed, when the dial or the Register fails; a Register
// answered with an error code is a *RegistrationError.
func Start(ctx context.Context, o ClientOptions) (*Client, error) {
	if o.Model == nil || o.Endpoint == "" {
		return nil, errors.New("lwm2m: client needs a Model and an Endpoint")
	}
	o = o.withDefaults()
	c := &Client{o: o, m: o.Model, quit: make(chan struct{})}
	c.reg = Registration{Endpoint: o.Endpoint, Lifetime: o.Lifetime, Binding: o.Binding, Queue: o.Queue}
	co := o.CoAP
	co.Handler, co.Lost = c.handle, c.lost
	co.Dial = gated(co.Dial, o.Hear, &c.gate)
	s, err := coap.Dial(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("lwm2m: %s: %w", o.Endpoint, err)
	}
	c.s = s
	c.mu.Lock()
	c.timer = time.AfterFunc(time.Hour, c.tick)
	c.timer.Stop()
	c.mu.Unlock()
	if err := c.register(ctx); err != nil {
		c.mu.Lock()
		if !c.closed {
			c.closed = true
			c.timer.Stop()
			close(c.quit)
		}
		c.mu.Unlock()
		s.Close()
		return nil, err
	}
	return c, nil
}

// Session returns the client's CoAP session, for its counts and local
// address.
func (c *Client) Session() *coap.Session { return c.s }

// Location returns the registration's Location-Path ("rd", "5a3f"), nil
// while the device is not registered.
func (c *Client) Location() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.registered {
		return nil
	}
	return append([]string(nil), c.location...)
}

// register sends the Register request and waits for its answer.
func (c *Client) register(ctx context.Context) error {
	c.mu.Lock()
	c.m.Advance(time.Now())
	msg := c.reg.Register(c.m.RegisterLinks()).Message()
	c.inflight = true
	c.mu.Unlock()
	start := time.Now()
	resp, err := c.s.Do(ctx, msg)
	c.mu.Lock()
	err = c.takeRegistration(resp, err, start)
	c.mu.Unlock()
	if err == nil && c.o.OnRegistered != nil {
		c.o.OnRegistered(time.Since(start))
	}
	return err
}

// takeRegistration takes a Register's answer. c.mu must be held.
func (c *Client) takeRegistration(resp *coap.Message, err error, start time.Time) error {
	c.inflight = false
	switch {
	case err != nil:
		return fmt.Errorf("lwm2m: register %s: %w", c.o.Endpoint, err)
	case resp.Code != coap.Created:
		return &RegistrationError{Op: "register", Code: resp.Code}
	}
	c.location = c.location[:0]
	for _, opt := range resp.Options {
		if opt.ID == coap.LocationPath {
			c.location = append(c.location, string(opt.Value))
		}
	}
	c.registered, c.linksChanged = true, false
	c.updateDue = start.Add(time.Duration(float64(c.o.Lifetime) * c.o.UpdateAt))
	c.schedule(time.Now())
	return nil
}

// registerAsync sends a Register without waiting: after a firmware
// update, or when the server lost the registration. c.mu must be held.
func (c *Client) registerAsync(now time.Time) {
	switch {
	case c.closed:
		return
	case c.inflight:
		// Once the exchange under way ends, the Update asked for
		// becomes a Register, as the device counts as unregistered.
		c.registered, c.again = false, true
		return
	}
	c.m.Advance(now)
	msg := c.reg.Register(c.m.RegisterLinks()).Message()
	c.inflight, c.registered = true, false
	err := c.s.Start(msg, func(r coap.Result) {
		c.mu.Lock()
		err := c.takeRegistration(r.Response, r.Err, now)
		c.outcome(err, c.o.OnRegistered, now)
		c.unlock()
	})
	if err != nil {
		c.inflight = false
		c.outcome(fmt.Errorf("lwm2m: register %s: %w", c.o.Endpoint, err), nil, now)
	}
}

// update sends an Update without waiting: the lifetime's renewal, a
// wake-up, or the objects changed. c.mu must be held.
func (c *Client) update(now time.Time) {
	switch {
	case c.closed:
		return
	case c.inflight:
		c.again = true
		return
	case !c.registered:
		c.registerAsync(now)
		return
	}
	var links []Link
	if c.linksChanged {
		links = c.m.RegisterLinks()
	}
	msg := c.reg.Update(c.location, c.reg, links).Message()
	c.inflight, c.linksChanged = true, false
	err := c.s.Start(msg, func(r coap.Result) { c.updated(r, now, links != nil) })
	if err != nil {
		c.inflight, c.linksChanged = false, links != nil
		c.outcome(fmt.Errorf("lwm2m: update %s: %w", c.o.Endpoint, err), nil, now)
	}
}

// updated takes an Update's answer: 2.04 renews the registration; 4.04
// (the server forgot it) and failures make the client register again
// (Core §6.2.2).
func (c *Client) updated(r coap.Result, start time.Time, withLinks bool) {
	c.mu.Lock()
	c.inflight = false
	var err error
	switch {
	case r.Err != nil:
		err = fmt.Errorf("lwm2m: update %s: %w", c.o.Endpoint, r.Err)
	case r.Response.Code == coap.Changed:
		c.updateDue = start.Add(time.Duration(float64(c.o.Lifetime) * c.o.UpdateAt))
	default:
		err = &RegistrationError{Op: "update", Code: r.Response.Code}
	}
	if err != nil {
		c.linksChanged = c.linksChanged || withLinks
		c.registered = false
	}
	c.outcome(err, c.o.OnUpdated, start)
	if r.Err == nil && r.Response.Code == coap.NotFound {
		c.registerAsync(time.Now()) // the server has forgotten the device: at once
	}
	c.unlock()
}

// outcome acts on how a Register or Update ended: on failure it retries
// after RetryDelay and reports err; on success it reports the latency
// through f. Then it sends an Update asked for meanwhile and re-arms the
// timer. c.mu must be held.
func (c *Client) outcome(err error, f func(time.Duration), start time.Time) {
	now := time.Now()
	switch {
	case err != nil:
		c.updateDue = now.Add(c.o.RetryDelay)
		if c.o.OnError != nil {
			c.later(func() { c.o.OnError(err) })
		}
	case f != nil && !c.closed:
		lat := now.Sub(start)
		c.later(func() { f(lat) })
	}
	if c.again && !c.inflight && err == nil {
		c.again = false
		c.update(now)
	}
	c.schedule(now)
}

// later queues a callback to run once c.mu is released. c.mu must be
// held.
func (c *Client) later(f func()) { c.calls = append(c.calls, f) }

// unlock releases c.mu and runs the callbacks queued under it, so that
// no callback runs while the client holds its lock.
func (c *Client) unlock() {
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()
	for _, f := range calls {
		f()
	}
}

// Update sends an Update now without waiting; its outcome comes through
// OnUpdated or OnError. It also wakes a sleeping device.
func (c *Client) Update() {
	c.gate.wake()
	c.mu.Lock()
	c.update(time.Now())
	c.unlock()
}

// Sleep puts a queue-mode device to sleep, as its radio enters PSM or an
// eDRX cycle: from now on it hears nothing (what the server sends is
// lost, as on a radio that is off; held instead when ClientOptions.Hear
// models the radio) and sends no notifications, until Wake or its next
// registration renewal, which wakes it.
func (c *Client) Sleep() { c.gate.sleep() }

// Wake wakes a sleeping device and sends an Update, so that the server
// delivers the requests it queued (Core §6.5, queue mode).
func (c *Client) Wake() { c.Update() }

// Missed returns how many datagrams reached the device while it slept
// and were lost, as a radio in PSM loses them.
func (c *Client) Missed() uint64 { return c.gate.dropped.Load() }

// Held returns how many datagrams waited for the device's radio to
// listen (see ClientOptions.Hear).
func (c *Client) Held() uint64 { return c.gate.held.Load() }

// Asleep reports whether the device sleeps.
func (c *Client) Asleep() bool { return c.gate.asleep.Load() }

// Close de-registers the device (DELETE on its location, waiting up to
// CloseTimeout) and closes the session. It returns the De-register's
// error, if any; the session closes either way. Close is idempotent. It
// waits for the session's reader, so a callback must not call it (the
// De-register's answer could not be read).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.timer.Stop()
	close(c.quit)
	loc, reg := c.location, c.registered
	c.mu.Unlock()
	var err error
	if reg {
		c.gate.wake()
		ctx, cancel := context.WithTimeout(context.Background(), c.o.CloseTimeout)
		var resp *coap.Message
		resp, err = c.s.Do(ctx, Deregister(loc).Message())
		cancel()
		if err == nil && resp.Code != coap.Deleted {
			err = &RegistrationError{Op: "deregister", Code: resp.Code}
		}
	}
	c.s.Close()
	return err
}

// lost is the session's Lost callback.
func (c *Client) lost(err error) {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.timer.Stop()
		close(c.quit)
	}
	c.mu.Unlock()
	if c.o.OnLost != nil {
		c.o.OnLost(err)
	}
}

// schedule arms the timer for the earliest thing due. c.mu must be held.
func (c *Client) schedule(now time.Time) {
	if c.closed {
		return
	}
	next := c.updateDue
	for _, t := range [...]time.Time{c.checkDue, c.fw.due} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		c.timer.Stop()
		return
	}
	c.timer.Reset(max(0, next.Sub(now)))
}

// tick is the timer's function: it does what is due and re-arms.
func (c *Client) tick() {
	c.mu.Lock()
	now := time.Now()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if !c.fw.due.IsZero() && !now.Before(c.fw.due) {
		c.installed(now)
	}
	if !c.updateDue.IsZero() && !now.Before(c.updateDue) {
		// A Register or Update under way sets the next due time when it
		// ends; else the renewal goes now.
		c.updateDue = time.Time{}
		if !c.inflight {
			c.gate.wake() // a renewal wakes the device, as a periodic TAU would
			c.update(now)
		}
	}
	if !c.checkDue.IsZero() && !now.Before(c.checkDue) {
		c.check(now)
	}
	c.schedule(now)
	c.unlock()
}

// Message returns the request as a confirmable CoAP message: Uri-Path,
// Uri-Query and, with a payload, Content-Format options.
func (r Request) Message() *coap.Message {
	m := &coap.Message{Type: coap.Confirmable, Code: r.Method}
	for _, seg := range r.Path {
		m.AddOption(coap.URIPath, []byte(seg))
	}
	if r.Payload != nil {
		m.SetUint(coap.ContentFormat, uint32(r.Format))
		m.Payload = r.Payload
	}
	for _, q := range r.Query {
		m.AddOption(coap.URIQuery, []byte(q))
	}
	return m
}

// String returns the request as "POST /rd?ep=..&lt=..".
func (r Request) String() string {
	s := r.Method.String() + " /" + strings.Join(r.Path, "/")
	if len(r.Query) > 0 {
		s += "?" + strings.Join(r.Query, "&")
	}
	return s
}
