package lwm2m

import (
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// FuzzServe feeds the device client's request handling arbitrary server
// requests (one datagram each, decoded): it must answer every one with a
// response code and never panic, whatever the request does to the Model
// (deleting sensors, writing the firmware URI, creating instances).
func FuzzServe(f *testing.F) {
	for _, seed := range []*coap.Message{
		req(coap.GET, "/3/0", "", coap.LwM2MTLV, nil),
		req(coap.GET, "/3303/0/5700", "", coap.SenMLJSON, nil),
		req(coap.PUT, "/1/0/1", "", -1, []byte("120")),
		req(coap.PUT, "/3303/0/5700", "pmin=5", -1, nil),
		req(coap.POST, "/3303", "", coap.SenMLJSON, []byte(`[{"bn":"/3303/4/","n":"5701","vs":"C"}]`)),
		req(coap.DELETE, "/3303/0", "", -1, nil),
		req(coap.POST, "/5/0/2", "", -1, nil),
		req(coap.PUT, "/5/0/1", "", coap.TextPlain, []byte("coap://127.0.0.1:9/fw")),
	} {
		b, _ := seed.MarshalBinary()
		f.Add(b)
	}
	c, fs := startFake(f, ClientOptions{Lifetime: time.Hour}, func(*coap.Message) coap.Code { return coap.Changed })
	f.Cleanup(func() { c.Close() })
	go func() { // what the device sends besides requests (notifications) goes nowhere
		for range fs.answers {
		}
	}()
	f.Fuzz(func(t *testing.T, data []byte) {
		var m coap.Message
		if coap.Decode(data, &m) != nil || !m.Code.IsRequest() {
			return
		}
		c.mu.Lock()
		_, resp := c.serve(&m, time.Now())
		c.unlock()
		if !resp.Code.IsResponse() {
			t.Fatalf("%v answered %v", &m, resp.Code)
		}
	})
}

// req builds a server request; accept < 0 leaves the option out.
func req(code coap.Code, path, query string, accept int, payload []byte) *coap.Message {
	m := &coap.Message{Type: coap.Confirmable, Code: code, MessageID: 1, Token: []byte{1}}
	m.SetPath(path)
	if query != "" {
		m.AddQuery(query)
	}
	if accept >= 0 && payload == nil {
		m.SetUint(coap.Accept, uint32(accept))
	}
	if payload != nil {
		if accept >= 0 {
			m.SetUint(coap.ContentFormat, uint32(accept))
		}
		m.Payload = payload
	}
	return m
}
