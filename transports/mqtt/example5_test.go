package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// reasons is a device's Handler that also takes MQTT 5 reason codes.
type reasons struct {
	printer
	codes chan mqtt.ReasonCodeError
}

func (r reasons) AckReason(id uint16, err mqtt.ReasonCodeError) { r.codes <- err }

// An MQTT 5 device publishes with a message expiry and a user property;
// a second session with the same client ID takes the first one over,
// which ends with the broker's DISCONNECT and its reason code.
func Example_mqtt5() {
	b, err := broker.Start("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	o := mqtt.Options{Addr: b.Addr(), ClientID: "dev-1", CleanSession: true, ProtocolVersion: mqtt.V5,
		V5: mqtt.V5Options{MessageExpiry: time.Minute, TopicAliases: 4,
			UserProperties: []mqtt.UserProperty{{Key: "site", Value: "north"}}}}
	lost := make(chan error, 1)
	h := reasons{printer: printer{acked: make(chan uint16, 1)}, codes: make(chan mqtt.ReasonCodeError, 1)}
	dev, err := mqtt.Connect(ctx, o, lostTo{h, lost})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	if err := dev.Publish(1, "devices/1/up", []byte("21.5"), 1, false); err != nil {
		log.Fatal(err)
	}
	fmt.Println("acked", <-h.acked)

	twin, err := mqtt.Connect(ctx, o, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer twin.Close()
	var rc mqtt.ReasonCodeError
	if errors.As(<-lost, &rc) {
		fmt.Println("lost:", rc.Kind())
	}
	// Output:
	// acked 1
	// lost: mqtt_reason_0x8e_session_taken_over
}

// lostTo passes Lost's error to a channel.
type lostTo struct {
	reasons
	lost chan error
}

func (l lostTo) Lost(err error) { l.lost <- err }
