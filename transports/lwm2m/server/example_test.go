package server_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// A device registers with the embedded server, which reads its
// manufacturer and battery level and then sees it de-register.
func Example() {
	srv, err := server.Start("127.0.0.1:0", nil, server.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.OnRegister(func(ep string, _ time.Time) { fmt.Println("registered", ep) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	dev, err := lwm2m.Start(ctx, lwm2m.ClientOptions{
		CoAP:     coap.Options{Addr: srv.Addr(), Seed: 1, Stream: 42},
		Endpoint: "meter-42",
		Lifetime: 300 * time.Second,
		Model:    lwm2m.NewModel(lwm2m.Config{Seed: 1, Index: 42, Start: time.Now()}),
	})
	if err != nil {
		log.Fatal(err)
	}
	resp, err := srv.Read(ctx, "meter-42", lwm2m.ResourcePath(lwm2m.ObjectDevice, 0, 0), lwm2m.FormatText)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, string(resp.Payload))
	resp, err = srv.Read(ctx, "meter-42", lwm2m.InstancePath(lwm2m.ObjectDevice, 0), lwm2m.FormatSenMLJSON)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Code, resp.Format)

	if err := dev.Close(); err != nil {
		log.Fatal(err)
	}
	st := srv.Stats()
	fmt.Println("registered now:", st.Registered, "reads:", st.Requests[lwm2m.ReadOp])
	// Output:
	// registered meter-42
	// 2.05 m2msim
	// 2.05 application/senml+json
	// registered now: 0 reads: 2
}
