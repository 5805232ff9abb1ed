package lwm2m

import (
	"errors"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// handle is the session's Handler: it answers the server's Device
// Management and Information Reporting requests (Transport §6.3, §6.4)
// from the Model. It runs on the session's reader goroutine.
func (c *Client) handle(req *coap.Message) *coap.Message {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &coap.Message{Code: coap.ServiceUnavailable}
	}
	op, resp := c.serve(req, time.Now())
	c.unlock()
	if c.o.OnRequest != nil {
		c.o.OnRequest(op, resp.Code)
	}
	return resp
}

// serve maps a request to its operation by method, path depth and
// options, and answers it. c.mu must be held.
func (c *Client) serve(req *coap.Message, now time.Time) (Op, *coap.Message) {
	p, err := ParseSegments(req.Strings(coap.URIPath))
	if err != nil {
		return ReadOp, failure(badRequest("%v", err))
	}
	c.m.Advance(now)
	switch {
	case req.Code == coap.GET:
		return c.get(req, p, now)
	case req.Code == coap.PUT && req.Payload == nil && hasOption(req, coap.URIQuery):
		return WriteAttributesOp, c.writeAttributes(req, p, now)
	case req.Code == coap.PUT:
		return WriteOp, c.write(req, p, true, now)
	case req.Code == coap.POST && p.Depth() == 1:
		return CreateOp, c.create(req, p, now)
	case req.Code == coap.POST && p.Depth() == 2:
		return WriteOp, c.write(req, p, false, now)
	case req.Code == coap.POST && p.Depth() == 3:
		return ExecuteOp, c.execute(req, p, now)
	case req.Code == coap.DELETE:
		return DeleteOp, c.delete(p, now)
	}
	return ReadOp, &coap.Message{Code: coap.MethodNotAllowed}
}

func hasOption(m *coap.Message, id coap.OptionID) bool {
	_, ok := m.Option(id)
	return ok
}

// failure answers with err's code (5.00 for an error that has none) and
// its reason as a diagnostic payload (RFC 7252 §5.5.2).
func failure(err error) *coap.Message {
	var e *Error
	if !errors.As(err, &e) {
		return &coap.Message{Code: coap.InternalServerError}
	}
	m := &coap.Message{Code: e.Code}
	if e.Reason != "" {
		m.Payload = []byte(e.Reason)
	}
	return m
}

// content is a 2.05 response carrying payload in format f.
func content(f Format, payload []byte) *coap.Message {
	m := &coap.Message{Code: coap.Content, Payload: payload}
	m.SetUint(coap.ContentFormat, uint32(f))
	return m
}

// get answers a Read, a Discover (Accept: link format, Transport §6.3)
// or an Observe / Cancel Observation (Observe 0 or 1).
func (c *Client) get(req *coap.Message, p Path, now time.Time) (Op, *coap.Message) {
	accept, hasAccept := req.Uint(coap.Accept)
	if hasAccept && Format(accept) == FormatLink {
		return DiscoverOp, c.discover(p)
	}
	op := ReadOp
	obs, hasObs := req.Uint(coap.Observe)
	switch {
	case hasObs && obs == 0:
		op = ObserveOp
	case hasObs && obs == 1:
		op = CancelObserveOp
		c.unobserve(req.Token)
	}
	f, payload, cur, err := c.read(p, Format(accept), hasAccept)
	if err != nil {
		return op, failure(err)
	}
	resp := content(f, payload)
	if op == ObserveOp {
		c.observe(req.Token, p, f, cur, now, resp)
	}
	return op, resp
}

// read reads p and encodes it in format f, or without accept in the
// default format: text/plain (opaque for Opaque) for one resource value,
// TLV for more. It returns what an observation compares: the value of a
// single resource, else the payload as an Opaque value. c.mu must be
// held.
func (c *Client) read(p Path, f Format, accept bool) (Format, []byte, Value, error) {
	recs, err := c.m.Read(p, nil)
	if err != nil {
		return f, nil, Value{}, err
	}
	single := len(recs) == 1 && recs[0].Path == p
	if !accept {
		f = FormatTLV
		if single {
			f = FormatText
			if recs[0].Value.Type() == TypeOpaque {
				f = FormatOpaque
			}
		}
	}
	payload, err := Encode(nil, f, p, recs)
	if err != nil {
		return f, nil, Value{}, err
	}
	if single {
		return f, payload, recs[0].Value, nil
	}
	return f, payload, Opaque(payload), nil
}

// discover answers a Discover with the links below p (Core §5.4.1).
func (c *Client) discover(p Path) *coap.Message {
	links, err := c.m.Discover(p)
	if err != nil {
		return failure(err)
	}
	return content(FormatLink, AppendLinks(nil, links))
}

// requestFormat is the Content-Format of a request's payload: without
// the option, text/plain for a resource and TLV above.
func requestFormat(req *coap.Message, p Path) Format {
	if f, ok := req.Uint(coap.ContentFormat); ok {
		return Format(f)
	}
	if p.Depth() >= 3 {
		return FormatText
	}
	return FormatTLV
}

// write answers a Write: replace (PUT) or partial update (POST).
func (c *Client) write(req *coap.Message, p Path, replace bool, now time.Time) *coap.Message {
	recs, err := Decode(requestFormat(req, p), p, req.Payload, c.m.Type)
	if err == nil {
		err = c.m.Write(p, recs, replace)
	}
	if err != nil {
		return failure(err)
	}
	c.afterWrite(p, now)
	c.soon(now)
	return &coap.Message{Code: coap.Changed}
}

// writeAttributes answers a Write-Attributes (PUT with a query, Core
// §5.4.4); the observations under p are checked again at once.
func (c *Client) writeAttributes(req *coap.Message, p Path, now time.Time) *coap.Message {
	if err := c.m.WriteAttributes(p, req.Strings(coap.URIQuery)); err != nil {
		return failure(err)
	}
	c.soon(now)
	return &coap.Message{Code: coap.Changed}
}

// execute answers an Execute and starts what it sets off: a firmware
// install, or an Update for the Registration Update Trigger (/1/0/8).
func (c *Client) execute(req *coap.Message, p Path, now time.Time) *coap.Message {
	if err := c.m.Execute(p, req.Payload); err != nil {
		return failure(err)
	}
	switch {
	case p == ResourcePath(ObjectFirmware, 0, 2):
		c.install(now)
	case p == ResourcePath(ObjectServer, 0, 8):
		c.update(now)
	}
	c.soon(now)
	return &coap.Message{Code: coap.Changed}
}

// create answers a Create (POST on an object, Core §5.4.5): 2.01 with
// the new instance as Location-Path, and an Update listing it.
func (c *Client) create(req *coap.Message, p Path, now time.Time) *coap.Message {
	var recs []Record
	var err error
	if len(req.Payload) > 0 {
		recs, err = Decode(requestFormat(req, p), p, req.Payload, c.m.Type)
	}
	var ip Path
	if err == nil {
		ip, err = c.m.Create(p, recs)
	}
	if err != nil {
		return failure(err)
	}
	resp := &coap.Message{Code: coap.Created}
	resp.AddOption(coap.LocationPath, []byte(Int(int64(ip.Object())).String()))
	resp.AddOption(coap.LocationPath, []byte(Int(int64(ip.Instance())).String()))
	c.objectsChanged(now)
	return resp
}

// delete answers a Delete of an object instance: 2.02, the observations
// under it dropped, and an Update without it.
func (c *Client) delete(p Path, now time.Time) *coap.Message {
	if err := c.m.Delete(p); err != nil {
		return failure(err)
	}
	c.dropUnder(p)
	c.objectsChanged(now)
	return &coap.Message{Code: coap.Deleted}
}

// objectsChanged sends an Update with the new object links (Core
// §6.2.2: the client updates its registration when its objects change).
func (c *Client) objectsChanged(now time.Time) {
	c.linksChanged = true
	c.update(now)
}
