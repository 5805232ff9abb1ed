package lwm2m

import (
	"slices"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

func TestRegister(t *testing.T) {
	objects := NewModel(Config{}).RegisterLinks()
	for _, c := range []struct {
		name    string
		reg     Registration
		objects []Link
		query   []string
		payload string
	}{
		{"the device, 1.1, UDP", Registration{Endpoint: "m2msim-7", Lifetime: 300 * time.Second,
			Formats: []Format{FormatSenMLJSON, FormatSenMLCBOR, FormatTLV}}, objects,
			[]string{"ep=m2msim-7", "lt=300", "lwm2m=1.1", "b=U"},
			`</>;rt="oma.lwm2m";ct="110 112 11542",</1>;ver=1.1,</1/0>,</3/0>,</4/0>,</5/0>,</6/0>,</3303/0>`},
		{"the brief's example: one ct, unquoted", Registration{Endpoint: "ep1", Formats: []Format{11543}},
			[]Link{{Target: "/1", Attrs: []Attr{{Name: "ver", Value: "1.1"}}}, {Target: "/1/0"}, {Target: "/3/0"}},
			[]string{"ep=ep1", "lwm2m=1.1", "b=U"},
			`</>;rt="oma.lwm2m";ct=11543,</1>;ver=1.1,</1/0>,</3/0>`},
		{"queue mode in 1.1 is Q", Registration{Endpoint: "q", Lifetime: time.Hour, Queue: true}, objects[:2],
			[]string{"ep=q", "lt=3600", "lwm2m=1.1", "b=U", "Q"}, `</1>;ver=1.1,</1/0>`},
		{"queue mode in 1.0 is b=UQ", Registration{Endpoint: "q", Version: "1.0", Queue: true}, []Link{{Target: "/3/0"}},
			[]string{"ep=q", "lwm2m=1.0", "b=UQ"}, `</3/0>`},
		{"alternate path", Registration{Endpoint: "a", Root: "/lwm2m"}, []Link{{Target: "/3/0"}},
			[]string{"ep=a", "lwm2m=1.1", "b=U"}, `</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>`},
	} {
		req := c.reg.Register(c.objects)
		if req.Method != coap.POST || !slices.Equal(req.Path, []string{"rd"}) || req.Format != FormatLink {
			t.Errorf("%s: Register = %v %v format %v", c.name, req.Method, req.Path, req.Format)
		}
		if !slices.Equal(req.Query, c.query) {
			t.Errorf("%s: query = %q, want %q", c.name, req.Query, c.query)
		}
		if string(req.Payload) != c.payload {
			t.Errorf("%s: payload =\n%s\nwant\n%s", c.name, req.Payload, c.payload)
		}
	}
}

func TestUpdate(t *testing.T) {
	loc := []string{"rd", "5a3f"}
	reg := Registration{Endpoint: "e", Lifetime: 300 * time.Second}
	for _, c := range []struct {
		name    string
		next    Registration
		objects []Link
		query   []string
		payload string
	}{
		{"nothing changed", reg, nil, nil, ""},
		{"lifetime", Registration{Endpoint: "e", Lifetime: 600 * time.Second}, nil, []string{"lt=600"}, ""},
		{"queue mode", Registration{Endpoint: "e", Lifetime: 300 * time.Second, Queue: true}, nil, []string{"b=U", "Q"}, ""},
		{"binding", Registration{Endpoint: "e", Lifetime: 300 * time.Second, Binding: "T"}, nil, []string{"b=T"}, ""},
		{"objects", reg, []Link{{Target: "/3/0"}, {Target: "/3303/1"}}, nil, "</3/0>,</3303/1>"},
	} {
		req := c.next.Update(loc, reg, c.objects)
		if req.Method != coap.POST || !slices.Equal(req.Path, loc) || !slices.Equal(req.Query, c.query) {
			t.Errorf("%s: Update = %v %v %q, want query %q", c.name, req.Method, req.Path, req.Query, c.query)
		}
		if string(req.Payload) != c.payload || (c.payload == "") != (req.Payload == nil) {
			t.Errorf("%s: payload = %q, want %q", c.name, req.Payload, c.payload)
		}
	}
	if req := Deregister(loc); req.Method != coap.DELETE || !slices.Equal(req.Path, loc) || req.Payload != nil {
		t.Errorf("Deregister = %+v", req)
	}
}
