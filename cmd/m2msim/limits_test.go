package main

import (
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

func TestPeakDevices(t *testing.T) {
	tele := &sim.Telemetry{Every: 15 * time.Minute}
	for _, tc := range []struct {
		name string
		p    sim.Plan
		want int
	}{
		{"persistent, no stages", sim.Plan{Groups: []sim.Group{{Count: 1000}}}, 1000},
		{"persistent, stages peak at half", sim.Plan{Groups: []sim.Group{{Count: 1000}},
			Stages: []sim.Stage{{Devices: 200}, {Devices: 500}, {Devices: 100}}}, 500},
		// 100k meters awake 1 s every 15 min: 111 on average, 4x = 445, +16.
		{"per-report meters", sim.Plan{Groups: []sim.Group{{Count: 100_000, Telemetry: tele,
			Connect: sim.Connect{PerReport: true}}}}, 461},
		{"per-report never above the count", sim.Plan{Groups: []sim.Group{{Count: 10,
			Telemetry: &sim.Telemetry{Every: time.Second}, Connect: sim.Connect{PerReport: true}}}}, 10},
		{"mixed groups add up", sim.Plan{Groups: []sim.Group{{Count: 300}, {Count: 100_000, Telemetry: tele,
			Connect: sim.Connect{PerReport: true}}}}, 761},
	} {
		if got := peakDevices(&tc.p); got != tc.want {
			t.Errorf("%s: peakDevices = %d, want %d", tc.name, got, tc.want)
		}
	}
}
