package lwm2m

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// Registration is what a device tells a server about itself in the
// Registration interface (Core §6.2, Transport §6.4.1): its endpoint
// name, lifetime, version, binding and queue mode, and the content
// formats it reads and writes.
type Registration struct {
	Endpoint string        // ep
	Lifetime time.Duration // lt in whole seconds; 0 leaves it out (the server's default, 86400)
	Version  string        // lwm2m (default "1.1")
	Binding  string        // b (default "U")
	// Queue asks for queue mode: the parameter Q in LwM2M 1.1, the
	// binding "UQ" in 1.0.
	Queue bool
	// Root is the alternate path of the objects (default "/"): with
	// "/lwm2m" the links read </lwm2m/3/0>.
	Root string
	// Formats are announced as ct on the root link, </>;rt="oma.lwm2m";
	// ct="110 112 11542"; none announces no root link (unless Root is an
	// alternate path).
	Formats []Format
}

// Request is a CoAP request of the Registration interface, ready for a
// session to send: method, Uri-Path and Uri-Query options, and a payload
// in Format (set the Content-Format option only when Payload is not
// nil).
type Request struct {
	Method  coap.Code
	Path    []string
	Query   []string
	Format  Format
	Payload []byte
}

func (r Registration) withDefaults() Registration {
	r.Version = orDefault(r.Version, "1.1")
	r.Binding = orDefault(r.Binding, "U")
	r.Root = orDefault(r.Root, "/")
	return r
}

// Register returns the Register request: POST /rd?ep=..&lt=..&lwm2m=1.1
// &b=U[&Q] with the objects in link format. objects are the device's
// links (Model.RegisterLinks), rooted at "/".
func (r Registration) Register(objects []Link) Request {
	r = r.withDefaults()
	q := []string{"ep=" + r.Endpoint}
	if r.Lifetime > 0 {
		q = append(q, "lt="+seconds(r.Lifetime))
	}
	q = append(q, "lwm2m="+r.Version)
	q = append(q, r.bindingQuery()...)
	return Request{Method: coap.POST, Path: []string{"rd"}, Query: q, Format: FormatLink,
		Payload: r.AppendPayload(nil, objects)}
}

// bindingQuery is b, and Q for queue mode in LwM2M 1.1 and later.
func (r Registration) bindingQuery() []string {
	if !r.Queue {
		return []string{"b=" + r.Binding}
	}
	if r.Version == "1.0" {
		return []string{"b=" + r.Binding + "Q"}
	}
	return []string{"b=" + r.Binding, "Q"}
}

// AppendPayload appends the Register (and Update) payload: the root link
// when there is one, then the objects with Root before their paths.
func (r Registration) AppendPayload(b []byte, objects []Link) []byte {
	r = r.withDefaults()
	var links []Link
	if r.Root != "/" || len(r.Formats) > 0 {
		links = append(links, r.rootLink())
	}
	for _, l := range objects {
		if r.Root != "/" {
			l.Target = strings.TrimSuffix(r.Root, "/") + l.Target
		}
		links = append(links, l)
	}
	return AppendLinks(b, links)
}

// rootLink is </>;rt="oma.lwm2m";ct=..., one ct unquoted, several as a
// quoted space-separated list (RFC 7252 §7.2.1).
func (r Registration) rootLink() Link {
	l := Link{Target: r.Root, Attrs: []Attr{{Name: "rt", Value: "oma.lwm2m", Quoted: true}}}
	if len(r.Formats) > 0 {
		cts := make([]string, len(r.Formats))
		for i, f := range r.Formats {
			cts[i] = strconv.Itoa(int(f))
		}
		l.Attrs = append(l.Attrs, Attr{Name: "ct", Value: strings.Join(cts, " ")})
	}
	return l
}

// Update returns the Update request to the registration at location
// (the Location-Path of the Register response, e.g. ["rd", "5a3f"]):
// POST with lt only when the lifetime differs from the registered one,
// b only when the binding or queue mode does, and the object links only
// when objects is not nil (they changed). An Update with nothing
// changed is the empty POST that only refreshes the registration.
func (r Registration) Update(location []string, registered Registration, objects []Link) Request {
	r, registered = r.withDefaults(), registered.withDefaults()
	var q []string
	if r.Lifetime != registered.Lifetime && r.Lifetime > 0 {
		q = append(q, "lt="+seconds(r.Lifetime))
	}
	if r.Binding != registered.Binding || r.Queue != registered.Queue {
		q = append(q, r.bindingQuery()...)
	}
	req := Request{Method: coap.POST, Path: slices.Clone(location), Query: q}
	if objects != nil {
		req.Format, req.Payload = FormatLink, r.AppendPayload(nil, objects)
	}
	return req
}

// Deregister returns the De-register request: DELETE on location.
func Deregister(location []string) Request {
	return Request{Method: coap.DELETE, Path: slices.Clone(location)}
}
