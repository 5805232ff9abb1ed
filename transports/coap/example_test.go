package coap_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pion/dtls/v2"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

// A device posts a reading with a confirmable request and waits for the
// answer; the session retransmits per RFC 7252 until it comes.
func Example() {
	srv, err := coaptest.NewResponder(nil) // answers 2.05 with the request's payload
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.Addr(), Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	req := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Payload: []byte(`{"t":21.5}`)}
	req.SetPath("/telemetry/device-1")
	req.SetUint(coap.ContentFormat, coap.JSON)
	resp, err := s.Do(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, string(resp.Payload))
	st := s.Stats()
	fmt.Println("transmissions:", st.Transmissions, "responses 2.05:", st.Codes[coap.Content])
	// Output:
	// 2.05 {"t":21.5}
	// transmissions: 1 responses 2.05: 1
}

// An engine drives a session without blocking: Start returns at once,
// and the callback runs on the session's goroutine with how the exchange
// ended.
func ExampleSession_Start() {
	srv, err := coaptest.NewResponder(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.Addr(), Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	done := make(chan struct{})
	req := &coap.Message{Type: coap.Confirmable, Code: coap.GET}
	req.SetPath("/time")
	if err := s.Start(req, func(r coap.Result) {
		// r.Response is valid only during the call.
		fmt.Println(r.Response.Code, "after", r.Transmissions, "transmission(s), separate:", r.Separate)
		close(done)
	}); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output:
	// 2.05 after 1 transmission(s), separate: false
}

// A device secured with DTLS and a pre-shared key: Dial runs the
// handshake, then requests go inside DTLS records.
func ExampleDTLS() {
	srv, err := coaptest.NewDTLSResponder(&dtls.Config{
		PSK:             func([]byte) ([]byte, error) { return []byte("secretPSK"), nil },
		PSKIdentityHint: []byte("hint"),
		CipherSuites:    []dtls.CipherSuiteID{dtls.TLS_PSK_WITH_AES_128_CCM_8},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	s, err := coap.Dial(context.Background(), coap.Options{Addr: srv.Addr(), Seed: 1, DTLS: &coap.DTLS{
		Identity: []byte("urn:imei:490154203237518"), // rendered per device by the caller
		Key:      []byte("secretPSK"),
		Sessions: new(coap.SessionCache), // resume on the next Dial
	}})
	if err != nil {
		log.Fatal(err) // a *coap.HandshakeError when the handshake fails
	}
	defer s.Close()
	hs, _ := s.DTLSHandshake() // hs.Duration for a dtls_handshake latency
	fmt.Println("resumed:", hs.Resumed)

	req := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Payload: []byte(`{"t":21.5}`)}
	req.SetPath("/telemetry/device-1")
	resp, err := s.Do(context.Background(), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, string(resp.Payload))
	// Output:
	// resumed: false
	// 2.05 {"t":21.5}
}
