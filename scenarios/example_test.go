package scenarios_test

import (
	"fmt"

	"github.com/m2msim/m2msim/scenarios"
)

func ExampleParse() {
	_, err := scenarios.Parse("bad.yaml", []byte(`version: 1
name: demo
duration: 30s
groups:
  - count: 100
    telemetry:
      every: 5s
      qos: 3
      topik: "up/{{id}}"
`))
	fmt.Println(err)

	s, err := scenarios.Parse("good.yaml", []byte(`version: 1
name: demo
duration: 30s
groups:
  - count: 100
    telemetry: {every: 5s, qos: 1}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := s.Plan()
	fmt.Println(p.Name, p.Devices(), p.Groups[0].Telemetry.Topic, p.Groups[0].Connect.Rate)
	// Output:
	// bad.yaml:8:12: groups[0].telemetry.qos: must be 0, 1 or 2, got 3
	// bad.yaml:9:7: groups[0].telemetry: unknown key "topik" (did you mean "topic"?)
	// demo 100 m2msim/{{group}}/{{id}}/up 100/s
}
