package lwm2m_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/m2msim/m2msim/transports/lwm2m"
)

// A simulated device registers, answers a server's Read of its
// temperature in SenML JSON, takes a Write-Attributes, and decides when
// its next notification is due.
func Example() {
	dev := lwm2m.NewModel(lwm2m.Config{Seed: 1, Index: 42})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dev.Advance(start)

	reg := lwm2m.Registration{Endpoint: "m2msim-42", Lifetime: 300 * time.Second,
		Formats: []lwm2m.Format{lwm2m.FormatSenMLCBOR, lwm2m.FormatTLV}}
	req := reg.Register(dev.RegisterLinks())
	fmt.Printf("%v /%s?%s\n%s\n", req.Method, strings.Join(req.Path, "/"), strings.Join(req.Query, "&"), req.Payload)

	temp := lwm2m.ResourcePath(lwm2m.ObjectTemperature, 0, 5700)
	recs, err := dev.Read(temp, nil)
	if err != nil {
		log.Fatal(err)
	}
	payload, _ := lwm2m.Encode(nil, lwm2m.FormatSenMLJSON, temp, recs)
	fmt.Printf("%s\n", payload)

	if err := dev.WriteAttributes(temp, []string{"pmin=30", "pmax=300", "st=0.5"}); err != nil {
		log.Fatal(err)
	}
	last := lwm2m.Notified{At: start, Value: recs[0].Value}
	now := start.Add(time.Minute)
	dev.Advance(now)
	cur, _ := dev.Get(temp)
	send, next := dev.Attributes(temp).Notify(last, cur, now)
	fmt.Println("at", now.Format(time.TimeOnly), cur, "notify:", send, "ask again at:", next.Format(time.TimeOnly))

	if err := dev.Write(temp, []lwm2m.Record{{Path: temp, Value: lwm2m.Float(0)}}, true); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 0.02 /rd?ep=m2msim-42&lt=300&lwm2m=1.1&b=U
	// </>;rt="oma.lwm2m";ct="112 11542",</1>;ver=1.1,</1/0>,</3/0>,</4/0>,</5/0>,</6/0>,</3303/0>
	// [{"bn":"/3303/0/5700","v":19.69}]
	// at 00:01:00 19.7 notify: false ask again at: 00:05:00
	// lwm2m: 4.05: /3303/0/5700 is not writable
}
