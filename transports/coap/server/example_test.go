package server_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/server"
)

// The server as a fleet's backend: it sees what a device writes, and
// pushes a command to the device that observes it.
func Example() {
	srv, err := server.Start("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	writes := make(chan string, 1)
	srv.OnUpdate(func(path string, payload []byte, _ net.Addr, _ time.Time) {
		writes <- path + " " + string(payload)
	})

	ctx := context.Background()
	dev, err := coap.Dial(ctx, coap.Options{Addr: srv.Addr(), Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	post := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Payload: []byte(`{"t":21.5}`)}
	post.SetPath("/telemetry/dev-1")
	resp, err := dev.Do(ctx, post)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, "and the backend saw", <-writes)

	srv.Put("/cmd/dev-1", []byte("idle"))
	commands := make(chan string, 4)
	get := &coap.Message{Type: coap.Confirmable, Code: coap.GET}
	get.SetPath("/cmd/dev-1")
	if _, err := dev.Observe(get, func(n coap.Notification) {
		commands <- string(n.Response.Payload) // Response is valid during the call only
	}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-commands)
	srv.Put("/cmd/dev-1", []byte("reboot"))
	fmt.Println(<-commands)
	// Output:
	// 2.01 and the backend saw /telemetry/dev-1 {"t":21.5}
	// idle
	// reboot
}

// A DTLS listener beside the plain one: devices with a pre-shared key
// speak coaps to SecureAddr, and the backend learns their PSK identity.
func ExampleDTLSConfig() {
	key := []byte("fleet-wide-key")
	srv, err := server.StartConfig("127.0.0.1:0", nil, server.Config{DTLS: &server.DTLSConfig{Key: key}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	who := make(chan string, 1)
	srv.OnUpdate(func(path string, _ []byte, peer net.Addr, _ time.Time) {
		who <- path + " from " + string(peer.(*server.DTLSPeer).Identity)
	})

	ctx := context.Background()
	dtls := &coap.DTLS{Identity: []byte("dev-1"), Key: key}
	dev, err := coap.Dial(ctx, coap.Options{Addr: srv.SecureAddr(), DTLS: dtls, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	put := &coap.Message{Type: coap.Confirmable, Code: coap.PUT, Payload: []byte("on")}
	put.SetPath("/state")
	resp, err := dev.Do(ctx, put)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, <-who, srv.Stats().DTLSSessions)
	// Output:
	// 2.01 /state from dev-1 1
}
