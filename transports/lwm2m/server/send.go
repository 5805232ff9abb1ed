package server

import (
	"net/netip"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// SendFunc is told of the records a device reported with the Send
// operation: its endpoint, the records and when the request arrived.
// The records are the callee's.
type SendFunc func(ep string, recs []lwm2m.Record, arrived time.Time)

// OnSend sets the function told of every Send accepted (LwM2M 1.1, Core
// §6.4.4: a POST to /dp in SenML CBOR or JSON); nil removes it. It runs
// on the reader goroutine after the server answered 2.04, and must not
// block.
func (s *Server) OnSend(f SendFunc) {
	if f == nil {
		s.onSend.Store(nil)
		return
	}
	s.onSend.Store(&f)
}

// dataPush answers a Send from a registered device: 2.04 and the records
// handed to OnSend; 4.04 when no device is registered from the address
// it came from, 4.15 for a format other than SenML, 4.00 for a payload
// that does not decode. s.mu must be held.
func (s *Server) dataPush(m *coap.Message, from netip.AddrPort, now time.Time) *coap.Message {
	r := s.byAddr[from]
	if r == nil {
		s.st.add(cRejected)
		return diagnostic(coap.NotFound, "not registered from this address")
	}
	f, _ := m.Uint(coap.ContentFormat)
	if lwm2m.Format(f) != lwm2m.FormatSenMLCBOR && lwm2m.Format(f) != lwm2m.FormatSenMLJSON {
		s.st.add(cRejected)
		return diagnostic(coap.UnsupportedContentFormat, "send takes SenML CBOR (112) or SenML JSON (110)")
	}
	recs, err := lwm2m.Decode(lwm2m.Format(f), lwm2m.Path{}, m.Payload, definedType)
	if err != nil {
		s.st.add(cRejected)
		return diagnostic(coap.BadRequest, clip(err.Error()))
	}
	s.st.add(cSends)
	if fp := s.onSend.Load(); fp != nil {
		ep := r.ep
		s.later(func() { (*fp)(ep, recs, now) })
	}
	return &coap.Message{Code: coap.Changed}
}

func diagnostic(code coap.Code, reason string) *coap.Message {
	resp := &coap.Message{Code: code, Payload: []byte(reason)}
	resp.SetUint(coap.ContentFormat, coap.TextPlain)
	return resp
}

// locate files r under its address for the Sends that come from it.
// s.mu must be held.
func (s *Server) locate(r *registration, from netip.AddrPort) {
	if s.byAddr[r.addr] == r {
		delete(s.byAddr, r.addr)
	}
	r.addr = from
	s.byAddr[from] = r
}

// definedType types the resources of the objects the devices implement.
func definedType(p lwm2m.Path) (lwm2m.Type, bool) {
	d, ok := lwm2m.Definition(p.Object())
	if !ok {
		return lwm2m.TypeNone, false
	}
	r, ok := d.Resource(p.Resource())
	if !ok {
		return lwm2m.TypeNone, false
	}
	return r.Type, true
}
