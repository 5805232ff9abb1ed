package server

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

func TestParseRegister(t *testing.T) {
	links := []byte(`</>;rt="oma.lwm2m";ct=11542,</1/0>,</3/0>,</3303>;ver=1.1`)
	for _, tc := range []struct {
		query   string
		payload []byte
		update  bool
		want    string // a part of the reason; "" for success
	}{
		{"ep=a&lt=300&lwm2m=1.1&b=U&Q", links, false, ""},
		{"ep=a&b=UQ", links, false, ""},
		{"ep=a&sms=+491234", links, false, ""},
		{"lt=60&b=U", nil, true, ""},
		{"", nil, true, ""},
		{"lt=60", links, false, "without an endpoint name"},
		{"ep=a", nil, false, "without object links"},
		{"ep=", links, false, "endpoint name of 0 bytes"},
		{"ep=a&ep=b", links, false, "given twice"},
		{"ep=a&lt=0", links, false, "lifetime"},
		{"ep=a&lt=4294967296", links, false, "lifetime"},
		{"ep=a&lt=-5", links, false, "lifetime"},
		{"ep=a&lt=007", links, false, "lifetime"},
		{"ep=a&lwm2m=2.0", links, false, "unsupported lwm2m version"},
		{"ep=a&b=X", links, false, "binding"},
		{"ep=a&b=UU", links, false, "binding"},
		{"ep=a&b=Q", links, false, "binding Q without a transport"},
		{"ep=a&Q=1", links, false, "Q takes no value"},
		{"ep=a&lt", links, false, "without a value"},
		{"ep=a&foo=1", links, false, "unknown parameter"},
		{"ep=a", []byte("</3/0"), false, "link format"},
		{"ep=a", []byte("</3/0/1>"), false, "not an object or object instance"},
		{"ep=a", []byte("</x>"), false, "not an object or object instance"},
		{"ep=a", []byte(`</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>`), false, ""},
		{"ep=a", []byte(`</lwm2m>;rt="oma.lwm2m",</3/0>`), false, "not an object"},
		{"ep=a", []byte("</3/0>"), true, "parameter ep in an update"},
		{"lwm2m=1.1", nil, true, "parameter lwm2m in an update"},
	} {
		var q []string
		if tc.query != "" {
			q = strings.Split(tc.query, "&")
		}
		_, err := parseRegister(q, tc.payload, tc.update)
		var re *requestError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("parseRegister(%q, %q, %v) = %v, want success", tc.query, tc.payload, tc.update, err)
		case tc.want != "" && (!errors.As(err, &re) || re.Code != coap.BadRequest || !strings.Contains(re.Reason, tc.want)):
			t.Errorf("parseRegister(%q, %q, %v) = %v, want 4.00 with %q", tc.query, tc.payload, tc.update, err, tc.want)
		}
	}
}

func TestParseRegisterValues(t *testing.T) {
	p, err := parseRegister([]string{"ep=m", "lt=300", "lwm2m=1.0", "b=UQ"}, []byte("</3/0>"), false)
	if err != nil {
		t.Fatal(err)
	}
	if p.ep != "m" || p.lifetime != 300*time.Second || p.version != "1.0" || p.binding != "U" || !p.queue || p.objects != "</3/0>" {
		t.Errorf("parseRegister = %+v", p)
	}
}

// FuzzParseRegister feeds the registration parser arbitrary queries and
// payloads: it must not panic, and what it accepts must be consistent.
func FuzzParseRegister(f *testing.F) {
	f.Add("ep=a&lt=300&lwm2m=1.1&b=U&Q", []byte(`</>;rt="oma.lwm2m";ct=11542,</1/0>,</3/0>`), false)
	f.Add("lt=60&b=UQ", []byte(nil), true)
	f.Add("ep=a", []byte(`</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>;ver=1.1`), false)
	f.Fuzz(func(t *testing.T, query string, payload []byte, update bool) {
		p, err := parseRegister(strings.Split(query, "&"), payload, update)
		if err != nil {
			var re *requestError
			if !errors.As(err, &re) || re.Reason == "" {
				t.Fatalf("error %v is not a *requestError with a reason", err)
			}
			return
		}
		if !update && (p.ep == "" || len(p.ep) > maxEndpoint || p.has&hasObjects == 0) {
			t.Fatalf("accepted a register without an endpoint or links: %+v", p)
		}
		if p.has&hasLT != 0 && p.lifetime < time.Second {
			t.Fatalf("accepted lifetime %v", p.lifetime)
		}
		if p.has&hasBinding != 0 && (p.binding == "" || strings.Contains(p.binding, "Q")) {
			t.Fatalf("binding %q", p.binding)
		}
	})
}

// FuzzRequest feeds whole datagrams to the server's request handling
// (the registration interface and the firmware image): it must answer
// or drop each without panicking.
func FuzzRequest(f *testing.F) {
	reg := &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: 1, Token: []byte{1}}
	reg.SetPath("/rd")
	reg.AddQuery("ep=a")
	reg.SetUint(coap.ContentFormat, coap.LinkFormat)
	reg.Payload = []byte("</3/0>")
	b, _ := reg.MarshalBinary()
	f.Add(b)
	f.Add([]byte{0x40, 0x01, 0, 1, 0xb2, 'f', 'w', 0xd1, 0x0a, 0x16}) // GET /fw Block2
	s, err := Start("127.0.0.1:0", nil, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	sink := netip.MustParseAddrPort("127.0.0.1:9") // discard: the answers go nowhere
	f.Fuzz(func(t *testing.T, data []byte) {
		s.mu.Lock()
		s.receive(data, sink, time.Now())
		s.unlock()
	})
}
