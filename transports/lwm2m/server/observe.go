package server

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// Notification is one notification of an observation: the device's new
// value of the path observed.
type Notification struct {
	Endpoint string
	Path     lwm2m.Path
	Observe  uint32 // the device's sequence number
	Code     coap.Code
	Format   lwm2m.Format
	Payload  []byte // the callee's to keep
	At       time.Time
	// Last marks the end of the observation by the device: a
	// notification with an error code or without Observe.
	Last bool
}

// Observation is an observation the server registered with a device.
type Observation struct {
	s      *Server
	ep     string
	path   lwm2m.Path
	format lwm2m.Format
	token  uint32
	notify func(Notification)
	// Guarded by s.mu.
	active bool
	reg    *registration // the device's, while active
	seq    uint32        // the sequence number last delivered
	at     time.Time     // when it came; zero: nothing delivered yet
}

// fresh reports whether a notification with sequence number v arriving
// at now is newer than the last delivered (RFC 7641 §3.4): ahead by
// less than half the 24-bit space, or 128 s later, after which the
// numbers may have wrapped.
func (o *Observation) fresh(v uint32, now time.Time) bool {
	const half = 1 << 23
	return o.at.IsZero() || o.seq < v && v-o.seq < half || o.seq > v && o.seq-v > half ||
		now.Sub(o.at) > 128*time.Second
}

// Observe registers an observation of p with device ep (Core §5.5.1, a
// GET with Observe 0 and Accept f unless DefaultFormat) and returns it
// with the device's first answer, once that came. Then notify gets every
// notification, on the server's reader goroutine: it must not block (nor
// call the request methods, which wait for the reader).
// An answer without Observe (the device declined) or with an error code
// leaves no observation: the *Observation returned is nil.
func (s *Server) Observe(ctx context.Context, ep string, p lwm2m.Path, f lwm2m.Format, notify func(Notification)) (*Observation, *Response, error) {
	o := &Observation{s: s, ep: ep, path: p, format: f, notify: notify}
	m := message(coap.GET, p)
	m.SetUint(coap.Observe, 0)
	if f != DefaultFormat {
		m.SetUint(coap.Accept, uint32(f))
	}
	s.mu.Lock()
	s.token++
	o.token = s.token
	s.obs[o.token] = o // notifications that overtake the answer count
	s.mu.Unlock()
	resp, err := s.do(ctx, ep, lwm2m.ObserveOp, m, o)
	if err != nil {
		s.mu.Lock()
		delete(s.obs, o.token)
		s.mu.Unlock()
		return nil, nil, err
	}
	r := newResponse(resp)
	if _, ok := resp.Option(coap.Observe); !ok || !r.Success() {
		return nil, r, nil
	}
	return o, r, nil
}

// established takes the answer to an Observe registration. s.mu must be
// held.
func (s *Server) established(o *Observation, r *registration, res result) {
	if res.err == nil && res.resp.Code.Class() == 2 {
		if v, ok := res.resp.Uint(coap.Observe); ok {
			o.active, o.seq, o.at, o.reg = true, v&(1<<24-1), time.Now(), r
			r.observations = append(r.observations, o)
			return
		}
	}
	s.unobserve(o)
}

// unobserve ends o at the server: its notifications are strays from now
// on. s.mu must be held.
func (s *Server) unobserve(o *Observation) {
	delete(s.obs, o.token)
	o.active = false
	if r := o.reg; r != nil {
		for i, e := range r.observations {
			if e == o {
				r.observations = append(r.observations[:i], r.observations[i+1:]...)
				break
			}
		}
		o.reg = nil
	}
}

// unobserveAll ends the observations of a registration that is gone.
// s.mu must be held.
func (s *Server) unobserveAll(r *registration) {
	for len(r.observations) > 0 {
		s.unobserve(r.observations[0])
	}
}

// notification delivers a notification to its observation. s.mu must be
// held.
func (s *Server) notification(o *Observation, m *coap.Message, now time.Time) {
	s.st.add(cNotifications)
	n := Notification{Endpoint: o.ep, Path: o.path, Code: m.Code, Format: DefaultFormat,
		Payload: append([]byte(nil), m.Payload...), At: now}
	if f, ok := m.Uint(coap.ContentFormat); ok {
		n.Format = lwm2m.Format(f)
	}
	seq, has := m.Uint(coap.Observe)
	n.Observe = seq & (1<<24 - 1)
	switch {
	case !has || m.Code.Class() != 2:
		n.Last = true
		s.unobserve(o)
	case !o.fresh(n.Observe, now):
		s.st.add(cStale) // overtaken by a newer one: the observer keeps the newer value
		return
	}
	o.seq, o.at = n.Observe, now
	s.later(func() { o.notify(n) })
}

// Cancel cancels the observation with the device (a GET with Observe 1
// and the observation's token, Core §5.5.2) and waits for its answer.
// Notifications stop at once: any still on the way are rejected with
// RST.
func (s *Server) Cancel(ctx context.Context, o *Observation) (*Response, error) {
	s.mu.Lock()
	s.unobserve(o)
	s.mu.Unlock()
	m := message(coap.GET, o.path)
	m.SetUint(coap.Observe, 1)
	if o.format != DefaultFormat {
		m.SetUint(coap.Accept, uint32(o.format))
	}
	m.Token = binary.BigEndian.AppendUint32(nil, o.token)
	resp, err := s.do(ctx, o.ep, lwm2m.CancelObserveOp, m, nil)
	if err != nil {
		return nil, err
	}
	return newResponse(resp), nil
}

// Forget drops the observation without telling the device: its next
// notification is rejected with RST, which ends the observation at the
// device (RFC 7641 §3.6).
func (s *Server) Forget(o *Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unobserve(o)
}

// Active reports whether the observation still runs: not after Cancel,
// Forget, a last notification, or the device's de-registration or
// expiry.
func (o *Observation) Active() bool {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	return o.active
}
