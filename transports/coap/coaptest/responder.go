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
	pc       *net.UDPConn
	h        coap.HandlerFunc
	requests atomic.Uint64
	wg       sync.WaitGroup
}

// StartResponder starts a Responder (see NewResponder); t.Cleanup stops
// it.
func StartResponder(t testing.TB, h coap.HandlerFunc) *Responder {
	t.Helper()
	r, err := NewResponder(h)
	if err != nil {
		t.Fatalf("start responder: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// NewResponder starts a Responder on a free loopback port whose answers
// h gives (the Responder fills in type, message id and token); nil
// answers 2.05 Content with the request's payload. Two goroutines serve
// the socket until Close.
func NewResponder(h coap.HandlerFunc) (*Responder, error) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &Responder{pc: pc, h: h}
	for range 2 {
		r.wg.Go(r.serve)
	}
	return r, nil
}

// Close stops the Responder and waits for its goroutines.
func (r *Responder) Close() {
	r.pc.Close()
	r.wg.Wait()
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
		n, from, err := r.pc.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || coap.Decode(buf[:n], &req) != nil {
			continue
		}
		resp, ok := answer(&req, r.h, &mid)
		if !ok {
			continue
		}
		if req.Code != coap.Empty {
			r.requests.Add(1)
		}
		if out, err = resp.AppendBinary(out[:0]); err == nil {
			r.pc.WriteToUDPAddrPort(out, from)
		}
	}
}

// answer is a responder's answer to req: RST for a ping, h's response
// (or an echo of the payload) piggybacked on the ACK of a CON or in a NON
// numbered from *mid; false for what it ignores (answers, bad types).
func answer(req *coap.Message, h coap.HandlerFunc, mid *uint16) (coap.Message, bool) {
	switch {
	case req.Code == coap.Empty && req.Type == coap.Confirmable:
		return coap.Message{Type: coap.Reset, MessageID: req.MessageID}, true
	case !req.Code.IsRequest() || req.Type > coap.NonConfirmable:
		return coap.Message{}, false
	}
	resp := coap.Message{Code: coap.Content, Payload: req.Payload}
	if h != nil {
		resp = *h(req)
	}
	resp.Token = req.Token
	resp.Type, resp.MessageID = coap.Acknowledgement, req.MessageID
	if req.Type == coap.NonConfirmable {
		*mid++
		resp.Type, resp.MessageID = coap.NonConfirmable, *mid
	}
	return resp, true
}
