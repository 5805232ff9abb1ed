package server

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// registration is one registered device.
type registration struct {
	params
	id         string // the location is /rd/<id>
	addr       netip.AddrPort
	registered time.Time
	updated    time.Time // the last Register or Update
	awakeUntil time.Time // queue mode: when the device stops listening
	mid        uint16    // the next message id towards the device
	inflight   *request  // the request under way (NSTART 1)
	waiting    []*request
	// observations are the device's active observations: a
	// de-registration or expiry ends them.
	observations []*Observation
}

// params are the parameters of a Register or Update (Core §6.2.1,
// Transport §6.4.1).
type params struct {
	ep       string
	lifetime time.Duration
	version  string
	binding  string
	queue    bool
	objects  string // the link-format payload, as sent
	has      paramSet
}

// paramSet says which parameters a request carried.
type paramSet uint8

const (
	hasEP paramSet = 1 << iota
	hasLT
	hasVersion
	hasBinding
	hasQueue
	hasSMS
	hasObjects
)

// requestError is a registration request the server rejects with 4.00
// Bad Request (or 4.15 for a payload that is not link format); Reason is
// the diagnostic payload it answers with.
type requestError struct {
	Code   coap.Code
	Reason string
}

func (e *requestError) Error() string { return "lwm2m server: " + e.Code.String() + ": " + e.Reason }

func badRequest(reason string) *requestError {
	return &requestError{Code: coap.BadRequest, Reason: reason}
}

// maxEndpoint bounds an endpoint name's length.
const maxEndpoint = 255

// parseRegister parses the Uri-Query options and payload of a Register
// (update false) or Update request. A Register must carry ep and a
// link-format payload; lt is 1 to 2^32-1 seconds, lwm2m one of 1.0, 1.1,
// 1.2, b a binding of the letters U, S, N, T (and Q in 1.0), Q carries
// no value; sms is taken and ignored. Anything else, a repeated
// parameter, or links that are not object or instance paths, is a
// *requestError.
func parseRegister(query []string, payload []byte, update bool) (params, error) {
	var p params
	for _, q := range query {
		if err := p.parse(q, update); err != nil {
			return p, err
		}
	}
	if !update && p.has&hasEP == 0 {
		return p, badRequest("register without an endpoint name (ep)")
	}
	if err := p.checkLinks(payload, update); err != nil {
		return p, err
	}
	return p, nil
}

// parse takes one query parameter.
func (p *params) parse(q string, update bool) error {
	name, val, hasVal := strings.Cut(q, "=")
	bit, ok := paramBits[name]
	switch {
	case !ok:
		return badRequest("unknown parameter " + strconv.Quote(clip(name)))
	case p.has&bit != 0:
		return badRequest("parameter " + name + " given twice")
	case update && (bit == hasEP || bit == hasVersion):
		return badRequest("parameter " + name + " in an update")
	case bit == hasQueue && hasVal:
		return badRequest("parameter Q takes no value")
	case bit != hasQueue && !hasVal:
		return badRequest("parameter " + name + " without a value")
	}
	p.has |= bit
	switch bit {
	case hasEP:
		return p.endpoint(val)
	case hasLT:
		return p.lt(val)
	case hasVersion:
		return p.lwm2m(val)
	case hasBinding:
		return p.bind(val)
	case hasQueue:
		p.queue = true
	}
	return nil
}

var paramBits = map[string]paramSet{"ep": hasEP, "lt": hasLT, "lwm2m": hasVersion, "b": hasBinding,
	"Q": hasQueue, "sms": hasSMS}

func (p *params) endpoint(v string) error {
	if v == "" || len(v) > maxEndpoint {
		return badRequest("endpoint name of " + strconv.Itoa(len(v)) + " bytes")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return badRequest("control character in the endpoint name")
		}
	}
	p.ep = v
	return nil
}

func (p *params) lt(v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 || (len(v) > 1 && v[0] == '0') {
		return badRequest("lifetime " + strconv.Quote(clip(v)) + " is not 1 to 4294967295 seconds")
	}
	p.lifetime = time.Duration(n) * time.Second
	return nil
}

func (p *params) lwm2m(v string) error {
	switch v {
	case "1.0", "1.1", "1.2":
		p.version = v
		return nil
	}
	return badRequest("unsupported lwm2m version " + strconv.Quote(clip(v)))
}

// bind takes a binding: U, S, N, T each at most once, and Q for the
// queue mode of LwM2M 1.0.
func (p *params) bind(v string) error {
	if v == "" {
		return badRequest("empty binding")
	}
	var seen [128]bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 128 || !strings.ContainsRune("USNTQ", rune(c)) || seen[c] {
			return badRequest("binding " + strconv.Quote(clip(v)) + " is not of U, S, N, T, Q each once")
		}
		seen[c] = true
	}
	p.binding = strings.ReplaceAll(v, "Q", "")
	p.queue = p.queue || seen['Q']
	if p.binding == "" {
		return badRequest("binding Q without a transport")
	}
	return nil
}

// checkLinks validates the payload: link format whose targets are the
// root (or an alternate path) with rt="oma.lwm2m", or /o and /o/i paths
// under it.
func (p *params) checkLinks(payload []byte, update bool) error {
	if len(payload) == 0 {
		if update {
			return nil
		}
		return badRequest("register without object links")
	}
	links, err := lwm2m.ParseLinks(payload)
	if err != nil {
		return badRequest(err.Error())
	}
	root := ""
	for _, l := range links {
		if rt, ok := l.Attr("rt"); ok && rt == "oma.lwm2m" {
			root = strings.TrimSuffix(l.Target, "/")
			continue
		}
		target, ok := strings.CutPrefix(l.Target, root)
		path, err := lwm2m.ParsePath(target)
		if !ok || err != nil || path.Depth() < 1 || path.Depth() > 2 {
			return badRequest("link " + strconv.Quote(clip(l.Target)) + " is not an object or object instance")
		}
	}
	p.objects = string(payload)
	p.has |= hasObjects
	return nil
}

// clip shortens what goes into an error message.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// request handles a request from a device: the Registration interface
// under /rd, the Send operation at /dp and the firmware image. A retransmission gets the cached
// answer. s.mu must be held.
func (s *Server) request(m *coap.Message, from netip.AddrPort, now time.Time) {
	if dup, reply := s.dedup.lookup(from, m.MessageID, now); dup {
		s.st.add(cDuplicates)
		if reply != nil {
			s.send(reply, from)
		}
		return
	}
	path := m.Strings(coap.URIPath)
	var resp *coap.Message
	var after func()
	switch {
	case len(path) == 1 && path[0] == "rd" && m.Code == coap.POST:
		resp, after = s.register(m, from, now)
	case len(path) == 2 && path[0] == "rd" && m.Code == coap.POST:
		resp, after = s.update(m, path[1], from, now)
	case len(path) == 2 && path[0] == "rd" && m.Code == coap.DELETE:
		resp = s.deregister(path[1], now)
	case len(path) == 1 && path[0] == lwm2m.SendPath && m.Code == coap.POST:
		resp = s.dataPush(m, from, now)
	case len(path) == 1 && path[0] == s.c.FirmwarePath && m.Code == coap.GET:
		resp = s.fw.block(m, &s.st)
	case len(path) >= 1 && path[0] == "rd":
		resp = &coap.Message{Code: coap.MethodNotAllowed}
	default:
		resp = &coap.Message{Code: coap.NotFound}
	}
	s.reply(m, resp, from, now)
	if after != nil {
		after() // requests to the device go after its registration's answer
	}
}

// parseRequest parses a Register or Update request, checking its
// Content-Format (link format, or none).
func parseRequest(m *coap.Message, update bool) (params, error) {
	if f, ok := m.Uint(coap.ContentFormat); ok && f != coap.LinkFormat && len(m.Payload) > 0 {
		return params{}, &requestError{Code: coap.UnsupportedContentFormat, Reason: "payload is not link format (40)"}
	}
	return parseRegister(m.Strings(coap.URIQuery), m.Payload, update)
}

// rejection answers a rejected request with its code and reason.
func rejection(err error) *coap.Message {
	e, ok := err.(*requestError)
	if !ok {
		return &coap.Message{Code: coap.InternalServerError}
	}
	resp := &coap.Message{Code: e.Code, Payload: []byte(e.Reason)}
	resp.SetUint(coap.ContentFormat, coap.TextPlain)
	return resp
}

// register answers a Register: 2.01 with Location-Path /rd/<id>. A known
// endpoint's registration is replaced (a new id, the new address), its
// queued requests kept. s.mu must be held.
func (s *Server) register(m *coap.Message, from netip.AddrPort, now time.Time) (*coap.Message, func()) {
	p, err := parseRequest(m, false)
	if err != nil {
		s.st.add(cRejected)
		return rejection(err), nil
	}
	r := s.byEP[p.ep]
	switch {
	case r != nil:
		delete(s.byID, r.id)
	case len(s.byEP) >= s.c.MaxRegistrations:
		s.st.add(cRejected)
		return &coap.Message{Code: coap.ServiceUnavailable, Payload: []byte("registrations full")}, nil
	default:
		r = &registration{mid: uint16(s.rng.Uint32())}
		s.byEP[p.ep] = r
	}
	if p.has&hasLT == 0 {
		p.lifetime = 86400 * time.Second
	}
	if p.has&hasVersion == 0 {
		p.version = "1.0"
	}
	if p.has&hasBinding == 0 {
		p.binding = "U"
	}
	r.params, r.registered, r.updated = p, now, now
	s.locate(r, from)
	r.id = strconv.FormatUint(s.nextID, 36)
	s.nextID++
	s.byID[r.id] = r
	s.st.add(cRegistrations)
	s.event(&s.onRegister, p.ep, now)
	s.expireAt(r)
	resp := &coap.Message{Code: coap.Created}
	resp.AddOption(coap.LocationPath, []byte("rd"))
	resp.AddOption(coap.LocationPath, []byte(r.id))
	return resp, func() { s.woke(r, now) }
}

// update answers an Update: 2.04, the registration renewed, moved to the
// address it came from, and its parameters changed as the query says.
func (s *Server) update(m *coap.Message, id string, from netip.AddrPort, now time.Time) (*coap.Message, func()) {
	r := s.byID[id]
	if r == nil {
		return &coap.Message{Code: coap.NotFound}, nil
	}
	p, err := parseRequest(m, true)
	if err != nil {
		s.st.add(cRejected)
		return rejection(err), nil
	}
	r.merge(p)
	if r.addr != from {
		s.st.add(cRebound)
		s.locate(r, from)
	}
	r.updated = now
	s.st.add(cUpdates)
	s.event(&s.onUpdate, r.ep, now)
	s.expireAt(r)
	return &coap.Message{Code: coap.Changed}, func() { s.woke(r, now) }
}

// merge applies the parameters an Update carried.
func (r *registration) merge(p params) {
	if p.has&hasLT != 0 {
		r.lifetime = p.lifetime
	}
	if p.has&hasBinding != 0 {
		r.binding, r.queue = p.binding, p.queue
	} else if p.has&hasQueue != 0 {
		r.queue = true
	}
	if p.has&hasObjects != 0 {
		r.objects = p.objects
	}
}

// deregister answers a De-register: 2.02, the registration gone and its
// requests failed with ErrDeregistered.
func (s *Server) deregister(id string, now time.Time) *coap.Message {
	r := s.byID[id]
	if r == nil {
		return &coap.Message{Code: coap.NotFound}
	}
	s.drop(r, ErrDeregistered)
	s.st.add(cDeregistrations)
	s.event(&s.onDeregister, r.ep, now)
	return &coap.Message{Code: coap.Deleted}
}

// drop removes r and fails its requests with err. s.mu must be held.
func (s *Server) drop(r *registration, err error) {
	delete(s.byID, r.id)
	if s.byEP[r.ep] == r {
		delete(s.byEP, r.ep)
	}
	if s.byAddr[r.addr] == r {
		delete(s.byAddr, r.addr)
	}
	s.fail(r, err)
	s.unobserveAll(r)
}

// expireAt makes sure the timer sweeps registrations in time for r's
// expiry. s.mu must be held.
func (s *Server) expireAt(r *registration) {
	at := r.updated.Add(r.lifetime + s.c.ExpiryGrace)
	if s.sweep.IsZero() || at.Before(s.sweep) {
		s.sweep = at
		s.arm(at)
	}
}

// expire removes the registrations whose lifetime has run out and
// returns the next expiry. s.mu must be held.
func (s *Server) expire(now time.Time) {
	var next time.Time
	for _, r := range s.byEP {
		at := r.updated.Add(r.lifetime + s.c.ExpiryGrace)
		if !now.Before(at) {
			s.drop(r, ErrDeregistered)
			s.st.add(cExpired)
			s.event(&s.onExpire, r.ep, now)
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	s.sweep = next
}

// Registration is what the server knows of a registered device.
type Registration struct {
	Endpoint   string
	Location   string // "/rd/<id>"
	Addr       netip.AddrPort
	Lifetime   time.Duration
	Version    string
	Binding    string
	Queue      bool
	Objects    []lwm2m.Link
	Registered time.Time // the last Register
	Updated    time.Time // the last Register or Update
	AwakeUntil time.Time // queue mode: when the device stops listening
	Queued     int       // requests waiting for the device
}

// Registration returns the registration of endpoint ep.
func (s *Server) Registration(ep string) (Registration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byEP[ep]
	if r == nil {
		return Registration{}, false
	}
	links, _ := lwm2m.ParseLinks([]byte(r.objects))
	return Registration{Endpoint: r.ep, Location: "/rd/" + r.id, Addr: r.addr, Lifetime: r.lifetime,
		Version: r.version, Binding: r.binding, Queue: r.queue, Objects: links, Registered: r.registered,
		Updated: r.updated, AwakeUntil: r.awakeUntil, Queued: len(r.waiting)}, true
}

// Deregister forgets the registration of ep, as a server that lost its
// state would: the device learns it from the 4.04 to its next Update and
// registers again (Core §6.2.2). Its requests fail with ErrDeregistered.
// It reports whether ep was registered.
func (s *Server) Deregister(ep string) bool {
	s.mu.Lock()
	defer s.unlock()
	r := s.byEP[ep]
	if r == nil {
		return false
	}
	s.drop(r, ErrDeregistered)
	return true
}

// Registered returns the number of registered devices.
func (s *Server) Registered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byEP)
}
