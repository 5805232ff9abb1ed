package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// LwM2M over DTLS with a PSK (LwM2M's mandatory TLS_PSK_WITH_AES_128_CCM_8
// by default): devices register on the server's DTLS listener, beside one
// on plain CoAP, and the server's requests and the devices' Sends go
// through each one's own session; a De-register ends it.
func TestDTLSDevices(t *testing.T) {
	key := []byte("lwm2m-psk-0123")
	s := startServer(t, server.Config{DTLS: &coapserver.DTLSConfig{Key: key}})
	if s.SecureAddr() == "" || s.SecureAddr() == s.Addr() {
		t.Fatalf("SecureAddr() = %q, Addr() = %q", s.SecureAddr(), s.Addr())
	}
	var mu sync.Mutex
	sent := map[string]int{}
	s.OnSend(func(ep string, _ []lwm2m.Record, _ time.Time) {
		mu.Lock()
		sent[ep]++
		mu.Unlock()
	})
	plain := startDevice(t, s, 20, nil)
	var secure []*device
	for i := range 5 {
		secure = append(secure, startDevice(t, s, 21+i, func(o *lwm2m.ClientOptions) {
			o.CoAP.Addr = s.SecureAddr()
			o.CoAP.DTLS = &coap.DTLS{Identity: fmt.Appendf(nil, "dev-%d", i), Key: key}
		}))
	}
	if done, failed := s.DTLSHandshakes(); done != 5 || failed != 0 {
		t.Fatalf("handshakes %d done, %d failed: want 5, 0", done, failed)
	}
	for _, d := range append(secure, plain) {
		resp, err := s.Read(ctx(t, 5*time.Second), d.ep, mustPath(t, "/3/0/0"), lwm2m.FormatText)
		if err != nil || string(resp.Payload) != "m2msim" {
			t.Fatalf("read %s: %+v, %v", d.ep, resp, err)
		}
		got := make(chan error, 1)
		recs := []lwm2m.Record{{Path: mustPath(t, "/3303/0/5750"), Value: lwm2m.String("x")}}
		done := func(r coap.Result) { // the response is valid only during the call
			if r.Err == nil && r.Response.Code != coap.Changed {
				r.Err = fmt.Errorf("answered %v", r.Response.Code)
			}
			got <- r.Err
		}
		if err := d.Send(lwm2m.FormatSenMLCBOR, recs, done); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("send %s: %v", d.ep, err)
		}
	}
	eventually(t, 2*time.Second, "a Send from each of the 6 devices", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) == 6
	})
	if err := secure[0].Close(); err != nil {
		t.Errorf("de-register over DTLS: %v", err)
	}
	if _, ok := s.Registration(secure[0].ep); ok {
		t.Error("still registered after its De-register")
	}
}

// A device with the wrong key never registers: its handshake fails, and
// the server counts it.
func TestDTLSWrongKey(t *testing.T) {
	s := startServer(t, server.Config{DTLS: &coapserver.DTLSConfig{Key: []byte("right-key-0123"), HandshakeTimeout: time.Second}})
	o := lwm2m.ClientOptions{
		CoAP: coap.Options{Addr: s.SecureAddr(), Seed: 1,
			DTLS: &coap.DTLS{Identity: []byte("dev"), Key: []byte("wrong-key-0123"), HandshakeTimeout: 2 * time.Second}},
		Endpoint: "dev", Model: lwm2m.NewModel(lwm2m.Config{Seed: 1, Start: time.Now()}),
	}
	if c, err := lwm2m.Start(ctx(t, 5*time.Second), o); err == nil {
		c.Close()
		t.Fatal("registered with the wrong key")
	}
	eventually(t, 5*time.Second, "the failed handshake counted", func() bool {
		_, failed := s.DTLSHandshakes()
		return failed >= 1
	})
}
