package lwm2m

import (
	"bytes"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// observation is one Observe a server registered with the device (Core
// §5.5.1): its token, what it observes in which format, and what was
// last notified.
type observation struct {
	token  []byte
	path   Path
	format Format // the first answer's: every notification keeps it
	last   Notified
	seq    uint32 // the Observe value of the last response sent
	done   func(coap.Result)
}

// seqMask keeps Observe sequence numbers to 24 bits (RFC 7641 §4.4).
const seqMask = 1<<24 - 1

// observe registers (or renews) the observation of p with token and
// puts its first sequence number on resp; past MaxObservations resp
// goes without one, so the server learns it is not registered. c.mu
// must be held.
func (c *Client) observe(token []byte, p Path, f Format, cur Value, now time.Time, resp *coap.Message) {
	o := c.observation(token)
	if o == nil {
		if len(c.obs) >= c.o.MaxObservations {
			return
		}
		o = &observation{token: bytes.Clone(token)}
		o.done = func(r coap.Result) { c.notified(o, r) }
		c.obs = append(c.obs, o)
	}
	o.path, o.format, o.last = p, f, Notified{At: now, Value: cur}
	o.seq = (o.seq + 1) & seqMask
	resp.SetUint(coap.Observe, o.seq)
	if c.checkDue.IsZero() {
		c.checkDue = now.Add(c.o.CheckEvery)
		c.schedule(now)
	}
}

// observation returns the observation with token, or nil. c.mu must be
// held.
func (c *Client) observation(token []byte) *observation {
	for _, o := range c.obs {
		if bytes.Equal(o.token, token) {
			return o
		}
	}
	return nil
}

// unobserve ends the observation with token (a GET with Observe 1, or
// an RST to a notification). c.mu must be held.
func (c *Client) unobserve(token []byte) {
	for i, o := range c.obs {
		if bytes.Equal(o.token, token) {
			c.remove(i)
			return
		}
	}
}

// remove drops observation i. c.mu must be held.
func (c *Client) remove(i int) {
	c.obs = append(c.obs[:i], c.obs[i+1:]...)
	if len(c.obs) == 0 {
		c.obs, c.checkDue = nil, time.Time{}
	}
}

// dropUnder ends the observations of p and below (an instance that was
// deleted) with a 4.04 notification, which ends them at the observer
// too (RFC 7641 §3.2). c.mu must be held.
func (c *Client) dropUnder(p Path) {
	for i := len(c.obs) - 1; i >= 0; i-- {
		if o := c.obs[i]; o.path.Under(p) {
			c.send(o, failure(notFound(o.path)))
			c.remove(i)
		}
	}
}

// Observations returns how many observations the device holds.
func (c *Client) Observations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.obs)
}

// soon brings the next observation check forward to now: a write may
// have changed what is observed. c.mu must be held.
func (c *Client) soon(now time.Time) {
	if len(c.obs) > 0 {
		c.checkDue = now
		c.schedule(now)
	}
}

// check advances the Model to now and notifies every observation whose
// attributes say so (Attributes.Notify: pmin, pmax, gt, lt, st). It is
// one pass over the device's observations, every CheckEvery or sooner
// when pmin or pmax fall due. A sleeping device sends nothing. c.mu
// must be held.
func (c *Client) check(now time.Time) {
	next := now.Add(c.o.CheckEvery)
	defer func() { c.checkDue = next }()
	if c.gate.asleep.Load() {
		return
	}
	c.m.Advance(now)
	for i := 0; i < len(c.obs); i++ {
		o := c.obs[i]
		f, payload, cur, err := c.read(o.path, o.format, true)
		if err != nil { // the path is gone: end the observation with the error
			c.send(o, failure(err))
			c.remove(i)
			i--
			continue
		}
		send, at := c.m.Attributes(o.path).Notify(o.last, cur, now)
		if !send {
			if !at.IsZero() && at.Before(next) {
				next = at
			}
			continue
		}
		o.last = Notified{At: now, Value: cur}
		o.seq = (o.seq + 1) & seqMask
		msg := content(f, payload)
		msg.SetUint(coap.Observe, o.seq)
		c.send(o, msg)
	}
	if len(c.obs) == 0 {
		next = time.Time{}
	}
}

// send sends a notification. c.mu must be held.
func (c *Client) send(o *observation, msg *coap.Message) {
	if err := c.s.Notify(o.token, msg, !c.o.NonConfirmableNotify, o.done); err != nil {
		return // the session is closed or its queue full: the next check tries again
	}
	if c.o.OnNotify != nil {
		p, f := o.path, c.o.OnNotify
		c.later(func() { f(p) })
	}
}

// notified is a notification's done callback: an RST (the observer
// forgot the registration) or a timeout (RFC 7641 §4.5) ends the
// observation.
func (c *Client) notified(o *observation, r coap.Result) {
	if r.Err == nil {
		return
	}
	c.mu.Lock()
	for i, e := range c.obs {
		if e == o {
			c.remove(i)
			break
		}
	}
	c.mu.Unlock()
}
