package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/coap"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/dial"
)

// coapConnector opens CoAP sessions: one UDP socket per device, through
// the device's own link, with its group's message layer.
type coapConnector struct {
	addr string
	// secureAddr is the embedded server's DTLS address, for DTLS groups.
	secureAddr string
	seed       uint64
	dial       func(device int, conn uint64) dial.Func
	// group returns the scenario group of a device.
	group func(device int) *Group
	// server is the embedded server when it is the target: a device's
	// command resource is made there before the device observes it.
	server *coapserver.Server
	// dtls holds the groups' DTLS settings, by group index; nil entries
	// for plain CoAP.
	dtls []*dtlsGroup
	s    *Scenario
}

// Connect opens the device's socket. CoAP has no handshake: the session
// is up once the socket is, and the first exchange finds out whether a
// server answers.
func (c *coapConnector) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	g := c.group(spec.Device)
	o := coap.Options{
		Addr:        c.addr,
		Dial:        dial.NAT(c.dial(spec.Device, spec.Conn), g.Link.NATTimeout, func() { h.Count("nat_rebind") }),
		DialTimeout: spec.Connect.Timeout,
		Seed:        c.seed,
		// Each connection draws its own message ids, tokens and
		// timeouts, repeatably.
		Stream:  uint64(spec.Device)<<32 | spec.Conn&0xffffffff,
		Lost:    h.Lost,
		OnFrame: ownFrames(h),
	}
	g.CoAP.options(&o)
	if err := secureSession(c.s, c.dtls, c.secureAddr, &o, spec); err != nil {
		return nil, err
	}
	s, err := coap.Dial(ctx, o)
	if err != nil {
		return nil, err
	}
	handshook(s, h)
	cs := &coapSession{s: s, h: h, secure: o.DTLS != nil}
	if t := g.Telemetry; t != nil {
		cs.methods[sim.FlowTelemetry] = methodCode(t.Method)
	}
	if r := g.Requests; r != nil {
		cs.methods[sim.FlowRequest] = methodCode(r.Method)
	}
	cs.methods[sim.FlowReply] = coap.POST
	if err := c.observe(ctx, cs, spec); err != nil {
		_ = s.Close()
		return nil, err
	}
	return cs, nil
}

// observe registers the device with each resource it takes commands
// from, and waits for the registrations as an MQTT device waits for its
// SUBACKs: a command sent before would be missed.
func (c *coapConnector) observe(ctx context.Context, cs *coapSession, spec sim.ConnectSpec) error {
	if len(spec.Subscribe) == 0 {
		return nil
	}
	timeout := spec.Connect.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	registered := make(chan error, len(spec.Subscribe))
	for _, sub := range spec.Subscribe {
		if c.server != nil {
			if _, ok := c.server.Get(sub.Topic); !ok {
				if err := c.server.Put(sub.Topic, nil); err != nil {
					return err
				}
			}
		}
		req := &coap.Message{Type: coap.Confirmable, Code: coap.GET}
		req.SetPath(sub.Topic)
		path := sub.Topic
		if _, err := cs.s.Observe(req, func(n coap.Notification) { cs.notified(path, n, registered) }); err != nil {
			return err
		}
	}
	for range spec.Subscribe {
		select {
		case err := <-registered:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("coap: observe: %w", ctx.Err())
		}
	}
	return nil
}

// coapSession binds a CoAP session to the engine: each message is a
// request to its path, acknowledged by a success response.
type coapSession struct {
	s       *coap.Session
	h       sim.Handler
	methods [sim.FlowReply + 1]coap.Code
	secure  bool // over DTLS
}

// Send starts the request: confirmable when the engine awaits it.
func (c *coapSession) Send(m sim.Message) error {
	req := &coap.Message{Type: coap.NonConfirmable, Code: c.methods[m.Flow]}
	if m.QoS > 0 {
		req.Type = coap.Confirmable
	}
	req.SetPath(m.Dest)
	if req.Code != coap.GET {
		req.Payload = m.Payload
	}
	if len(req.Payload) > maxSinglePayload {
		return c.upload(req, m.Ref)
	}
	var done func(coap.Result)
	if ref := m.Ref; ref != 0 {
		done = func(r coap.Result) { c.ended(ref, r) }
	}
	return c.s.Start(req, done)
}

// maxSinglePayload is the largest payload sent in one message: RFC 7252
// §4.6 keeps a message within 1,152 bytes, so larger ones go block-wise.
const maxSinglePayload = 1024

// upload sends a payload too large for one message in Block1 blocks (RFC
// 7959): its acknowledgement is the final block's response.
func (c *coapSession) upload(req *coap.Message, ref sim.Ref) error {
	req.Type = coap.Confirmable
	return c.s.Upload(req, coap.TransferOptions{}, func(t coap.TransferResult) {
		c.h.Count("coap_block_uploads")
		if ref != 0 {
			c.ended(ref, coap.Result{Response: t.Response, Err: t.Err, Transmissions: t.Transmissions})
		}
	})
}

// ownFrames charges the datagrams a device's CoAP session sends on its
// own (retransmissions, counted as coap_retransmit, and its answers to
// the server's messages) to the device's radio: frames like any other.
func ownFrames(h sim.Handler) func(size int, retransmit bool) {
	return func(size int, retransmit bool) {
		if retransmit {
			h.Count("coap_retransmit")
		}
		h.Transmitted(size)
	}
}

// ended reports an exchange's outcome: its response code, and whether it
// succeeded.
func (c *coapSession) ended(ref sim.Ref, r coap.Result) {
	var timeout *coap.TimeoutError
	switch {
	case r.Err != nil && c.secure && errors.As(r.Err, &timeout) && !timeout.Acked:
		// A DTLS session the server no longer answers (it restarted, or a
		// NAT moved the device to a port the server does not know) is
		// over: the device handshakes again, as a real one does.
		c.h.Failed(ref, r.Err)
		c.h.Count("dtls_session_lost")
		_ = c.s.Close()
		c.h.Lost(r.Err)
	case r.Response == nil:
		c.h.Acked(ref) // a suppressed response: nothing more is due
	case r.Response.Code.Class() == 2:
		c.h.Count(coap.CodeLabel(r.Response.Code))
		c.h.Acked(ref)
	default:
		c.h.Failed(ref, &coap.ResponseError{Code: r.Response.Code})
	}
}

// notified passes a command (a notification after the registration's
// response) to the engine; the registration's own outcome goes to
// registered, which has room for it.
func (c *coapSession) notified(path string, n coap.Notification, registered chan<- error) {
	switch {
	case n.First && n.Err != nil:
		registered <- n.Err
	case n.First && n.Response != nil && n.Response.Code.Class() != 2:
		registered <- &coap.ResponseError{Code: n.Response.Code}
	case n.First && n.Last:
		registered <- errors.New("coap: observe: the server did not register the device")
	case n.First:
		registered <- nil
	case n.Last:
		c.h.Count("coap_observe_ended")
	case n.Response != nil && n.Response.Code.Class() == 2:
		c.h.Message(path, n.Response.Payload)
	}
}

// Close closes the socket; exchanges under way end without a callback.
func (c *coapSession) Close() error { return c.s.Close() }
