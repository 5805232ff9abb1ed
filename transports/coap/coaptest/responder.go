package coaptest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/m2msim/m2msim/transports/coap"
)

// Responder is an in-process CoAP server on a free loopback UDP port, for
// tests and benchmarks that need speed rather than a real server. It
// answers every request at once: a CON with the response piggybacked on
// the ACK, a NON with a NON response, a ping with RST. It keeps no
// duplicate cache, so a retransmitted request is answered again.
type Responder struct {
	pc       net.PacketConn
	h        coap.HandlerFunc
	requests atomic.Uint64
	wg       sync.WaitGroup
}

// StartResponder starts a Responder whose answers h gives (the Responder
// fills in type, message id and token); nil answers 2.05 Content with
// the request's payload. Two goroutines serve the socket; t.Cleanup stops
// them.
func StartResponder(t testing.TB, h coap.HandlerFunc) *Responder {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start responder: %v", err)
	}
	if h == nil {
		h = func(req *coap.Message) *coap.Message {
			return &coap.Message{Code: coap.Content, Payload: req.Payload}
		}
	}
	r := &Responder{pc: pc, h: h}
	for range 2 {
		r.wg.Go(r.serve)
	}
	t.Cleanup(func() {
		pc.Close()
		r.wg.Wait()
	})
	return r
}

// Addr returns the responder's host:port.
func (r *Responder) Addr() string { return r.pc.LocalAddr().String() }

// Requests returns how many requests (retransmissions included) it has
// answered.
func (r *Responder) Requests() uint64 { return r.requests.Load() }

// serve answers datagrams until the socket is closed.
func (r *Responder) serve() {
	buf := make([]byte, 2048)
	var out []byte
	var req coap.Message
	var mid uint16
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || coap.Decode(buf[:n], &req) != nil {
			continue
		}
		var resp coap.Message
		switch {
		case req.Code == coap.Empty && req.Type == coap.Confirmable:
			resp = coap.Message{Type: coap.Reset, MessageID: req.MessageID}
		case !req.Code.IsRequest() || req.Type > coap.NonConfirmable:
			continue
		default:
			r.requests.Add(1)
			resp = *r.h(&req)
			resp.Token = req.Token
			resp.Type, resp.MessageID = coap.Acknowledgement, req.MessageID
			if req.Type == coap.NonConfirmable {
				mid++
				resp.Type, resp.MessageID = coap.NonConfirmable, mid
			}
		}
		if out, err = resp.AppendBinary(out[:0]); err == nil {
			r.pc.WriteTo(out, from)
		}
	}
}
