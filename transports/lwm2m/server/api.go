package server

import (
	"context"
	"strconv"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// DefaultFormat, as the format of a Read or Observe, sends no Accept
// option: the device answers in its own choice of format.
const DefaultFormat lwm2m.Format = 0xffff

// Response is a device's answer to a request: its code and, for a Read,
// Observe or Discover, its payload in Format; for a Create, the new
// instance's Location. An error code (4.04) is an answer like another.
type Response struct {
	Code     coap.Code
	Format   lwm2m.Format // the Content-Format; DefaultFormat when none
	Payload  []byte
	Location lwm2m.Path // Create: the instance created
}

// Success reports a 2.xx code.
func (r *Response) Success() bool { return r.Code.Class() == 2 }

func newResponse(m *coap.Message) *Response {
	r := &Response{Code: m.Code, Format: DefaultFormat, Payload: m.Payload}
	if f, ok := m.Uint(coap.ContentFormat); ok {
		r.Format = lwm2m.Format(f)
	}
	var segs []string
	for _, o := range m.Options {
		if o.ID == coap.LocationPath {
			segs = append(segs, string(o.Value))
		}
	}
	if len(segs) > 0 {
		r.Location, _ = lwm2m.ParseSegments(segs)
	}
	return r
}

// message returns a confirmable request for p.
func message(code coap.Code, p lwm2m.Path) *coap.Message {
	m := &coap.Message{Type: coap.Confirmable, Code: code}
	for d := range p.Depth() {
		m.AddOption(coap.URIPath, []byte(strconv.Itoa(int(p.ID(d)))))
	}
	return m
}

func withPayload(m *coap.Message, f lwm2m.Format, payload []byte) *coap.Message {
	m.SetUint(coap.ContentFormat, uint32(f))
	m.Payload = payload
	return m
}

// call sends m to ep and returns the answer.
func (s *Server) call(ctx context.Context, ep string, op lwm2m.Op, m *coap.Message) (*Response, error) {
	resp, err := s.do(ctx, ep, op, m, nil)
	if err != nil {
		return nil, err
	}
	return newResponse(resp), nil
}

// Read reads p from device ep (Core §5.4.1) in format f (the Accept
// option; DefaultFormat for none). It waits for the answer, ctx's end or
// the retransmissions' timeout (a *coap.TimeoutError); a device in queue
// mode that sleeps gets it after its next Update. The errors: ctx's,
// ErrNotRegistered, ErrBusy, ErrDeregistered, ErrClosed, a
// *coap.TimeoutError or *coap.ResetError.
func (s *Server) Read(ctx context.Context, ep string, p lwm2m.Path, f lwm2m.Format) (*Response, error) {
	m := message(coap.GET, p)
	if f != DefaultFormat {
		m.SetUint(coap.Accept, uint32(f))
	}
	return s.call(ctx, ep, lwm2m.ReadOp, m)
}

// Write writes payload (in format f) to p: a replace (PUT) or, with
// partial, a partial update (POST, on an object instance).
func (s *Server) Write(ctx context.Context, ep string, p lwm2m.Path, f lwm2m.Format, payload []byte, partial bool) (*Response, error) {
	code := coap.PUT
	if partial {
		code = coap.POST
	}
	return s.call(ctx, ep, lwm2m.WriteOp, withPayload(message(code, p), f, payload))
}

// Execute executes resource p with args (text/plain arguments, Core
// §5.4.5; nil for none).
func (s *Server) Execute(ctx context.Context, ep string, p lwm2m.Path, args []byte) (*Response, error) {
	m := message(coap.POST, p)
	if args != nil {
		m = withPayload(m, lwm2m.FormatText, args)
	}
	return s.call(ctx, ep, lwm2m.ExecuteOp, m)
}

// Discover asks for the links below p with their attributes (a GET with
// Accept: link format, Transport §6.3).
func (s *Server) Discover(ctx context.Context, ep string, p lwm2m.Path) (*Response, error) {
	m := message(coap.GET, p)
	m.SetUint(coap.Accept, coap.LinkFormat)
	return s.call(ctx, ep, lwm2m.DiscoverOp, m)
}

// WriteAttributes writes notification attributes to p: query options
// such as "pmin=10", "gt=25.5", or a bare "lt" to remove lt (a PUT with
// no payload).
func (s *Server) WriteAttributes(ctx context.Context, ep string, p lwm2m.Path, query ...string) (*Response, error) {
	m := message(coap.PUT, p)
	for _, q := range query {
		m.AddOption(coap.URIQuery, []byte(q))
	}
	return s.call(ctx, ep, lwm2m.WriteAttributesOp, m)
}

// Create creates an instance of object p with the payload's values (in
// format f; nil payload for a device-chosen id and default values). The
// answer's Location is the new instance.
func (s *Server) Create(ctx context.Context, ep string, p lwm2m.Path, f lwm2m.Format, payload []byte) (*Response, error) {
	m := message(coap.POST, p)
	if payload != nil {
		m = withPayload(m, f, payload)
	}
	return s.call(ctx, ep, lwm2m.CreateOp, m)
}

// Delete deletes object instance p.
func (s *Server) Delete(ctx context.Context, ep string, p lwm2m.Path) (*Response, error) {
	return s.call(ctx, ep, lwm2m.DeleteOp, message(coap.DELETE, p))
}
