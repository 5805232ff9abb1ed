package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// printer is a device's Handler.
type printer struct{ acked chan uint16 }

func (p printer) Acked(id uint16)                      { p.acked <- id }
func (p printer) Message(topic string, payload []byte) {}
func (p printer) Lost(err error)                       {}

// A device publishes telemetry at QoS 1; the backend receives it.
func Example() {
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	o := mqtt.BackendOptions{Options: mqtt.Options{Addr: b.Addr(), ClientID: "backend", CleanSession: true}}
	backend, err := mqtt.DialBackend(ctx, o, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()
	got := make(chan string, 1)
	err = backend.Subscribe(ctx, []mqtt.Subscription{{Topic: "devices/+/up", QoS: 1}}, func(topic string, payload []byte, arrived time.Time) {
		got <- topic + " " + string(payload) // payload is only valid during the call
	})
	if err != nil {
		log.Fatal(err)
	}

	h := printer{acked: make(chan uint16, 1)}
	dev, err := mqtt.Connect(ctx, mqtt.Options{Addr: b.Addr(), ClientID: "dev-1", CleanSession: true}, h)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Publish(1, "devices/1/up", []byte(`{"t":21.5}`), 1, false); err != nil {
		log.Fatal(err)
	}
	fmt.Println("acked", <-h.acked)
	fmt.Println("backend got", <-got)
	// Output:
	// acked 1
	// backend got devices/1/up {"t":21.5}
}

// A backend that receives a large fleet's telemetry spreads it over
// several connections: each subscribes $share/m2msim/<filter>, and the
// broker hands each message to one of them.
func ExampleDialBackend() {
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	o := mqtt.BackendOptions{
		Options:     mqtt.Options{Addr: b.Addr(), ClientID: "backend", CleanSession: true},
		Connections: 4, // client ids backend-0 ... backend-3
	}
	backend, err := mqtt.DialBackend(ctx, o, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()
	got := make(chan time.Time, 1)
	// With several connections, deliver runs on each one's goroutine.
	err = backend.Subscribe(ctx, []mqtt.Subscription{{Topic: "devices/+/up", QoS: 1}},
		func(topic string, payload []byte, arrived time.Time) { got <- arrived })
	if err != nil {
		log.Fatal(err)
	}
	dev, err := mqtt.Connect(ctx, mqtt.Options{Addr: b.Addr(), ClientID: "dev-1", CleanSession: true}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	sent := time.Now()
	if err := dev.Publish(1, "devices/1/up", []byte("21.5"), 1, false); err != nil {
		log.Fatal(err)
	}
	arrived := <-got
	fmt.Println("connections:", backend.Connections())
	fmt.Println("arrived after it was sent:", arrived.After(sent))
	// Output:
	// connections: 4
	// arrived after it was sent: true
}
