package report

import (
	"reflect"
	"testing"
	"time"

	"github.com/m2msim/m2msim/sim"
)

func TestGroupResults(t *testing.T) {
	c := NewCollector(Info{Groups: []GroupInfo{{Name: "meters", Devices: 10, Timed: 2}, {Name: "sensors", Devices: 5, Timed: 5}}, E2E: &sim.Sampling{Fraction: 0.2}})
	ms := time.Millisecond
	for _, e := range []sim.Event{
		{Kind: sim.Published, Group: 0, Timed: true}, {Kind: sim.Published, Group: 0, Timed: true},
		{Kind: sim.Published, Group: 0}, {Kind: sim.Acked, Group: 0, Timed: true}, {Kind: sim.Unacked, Group: 0},
		{Kind: sim.Delivered, Group: 0, Latency: ms},
		{Kind: sim.CommandSent, Group: 0}, {Kind: sim.CommandSent, Group: 0}, {Kind: sim.CommandReplied, Group: 0},
		{Kind: sim.Published, Group: 1, Timed: true}, {Kind: sim.Delivered, Group: 1, Latency: ms},
		{Kind: sim.RequestSent, Group: 1}, {Kind: sim.RequestAnswered, Group: 1},
		{Kind: sim.Deferred, Group: 1, Latency: 2 * time.Second}, {Kind: sim.Deferred, Group: 1, Latency: 4 * time.Second},
		{Kind: sim.OnAir, Group: 1, Latency: 1500 * ms}, {Kind: sim.OnAir, Group: 1, Latency: 500 * ms},
		{Kind: sim.DownlinkWait, Group: 1, Latency: 10 * time.Second},
		{Kind: sim.Collided, Group: 1},
		{Kind: sim.Woke, Group: 0, Latency: time.Minute}, {Kind: sim.Woke, Group: 0, Latency: 2 * time.Minute},
		{Kind: sim.Promoted, Group: 0, Latency: time.Second}, {Kind: sim.Promoted, Group: 0, Latency: 3 * time.Second},
		{Kind: sim.PublishFailed, Group: 1, Err: "duty_cycle"},
		{Kind: sim.Published, Group: 7}, // no such group: counted in the totals only
	} {
		c.Record(e)
	}
	g := c.Result(StatusPassed, time.Second).Groups
	if len(g) != 2 {
		t.Fatalf("%d group results, want 2", len(g))
	}
	want0 := GroupResult{Name: "meters", Devices: 10, TimedDevices: 2,
		Messages: Messages{Sent: 3, Timed: 2, Acked: 1, Unacked: 1, Received: 1, Lost: 1, LossPct: 50, LostAfterAck: 1},
		Commands: Commands{Sent: 2, Replied: 1, Unanswered: 1},
		Radio:    GroupRadio{Wakes: 2, AsleepS: 180, PromotionsMS: Spread{2, 2000, 3000}}}
	want1 := GroupResult{Name: "sensors", Devices: 5, TimedDevices: 5,
		Messages: Messages{Sent: 1, Timed: 1, Received: 1, Deferred: 2, PublishFailures: 1},
		Requests: Requests{Sent: 1, Answered: 1},
		Radio:    GroupRadio{Frames: 2, Collisions: 1, AirtimeS: 2, QueueAgeMS: Spread{2, 3000, 4000}, DownlinkWaitMS: Spread{1, 10000, 10000}}}
	// The group's latencies: its e2e sample, and the lost message and
	// the unacknowledged one beyond every finished flow.
	lat := g[0].LatencyMS
	if lat.E2E.Count != 1 || lat.E2E.Missing != 1 || lat.E2E.P50.V != 1 || !lat.E2E.P99.Beyond || lat.Ack.Missing != 1 {
		t.Errorf("group 0 latencies: e2e %+v, ack %+v; want one e2e of 1 ms, p99 beyond reach, one ack missing", lat.E2E, lat.Ack)
	}
	g[0].LatencyMS, g[1].LatencyMS = Latencies{}, Latencies{}
	if !reflect.DeepEqual(g[0], want0) {
		t.Errorf("group 0 = %+v, want %+v", g[0], want0)
	}
	if !reflect.DeepEqual(g[1], want1) {
		t.Errorf("group 1 = %+v, want %+v", g[1], want1)
	}
	for i, want := range []string{
		"group meters     10 devices (2 timed): 3 sent, 1 received, 1 lost (50%), 0 deferred, 0 failed; 1 of 2 commands unanswered; " +
			"2 wakes, 3m0s asleep; 2 radio promotions, 2s mean",
		"group sensors    5 devices: 1 sent, 1 received, 0 lost (0%), 2 deferred, 1 failed; 2 frames (1 collided), 2s on air; " +
			"held 3s mean, 4s max; commands waited 10s mean, 10s max",
	} {
		if got := groupLine(g[i]); got != want {
			t.Errorf("summary line\n got %q\nwant %q", got, want)
		}
	}
	if r := NewCollector(Info{}).Result(StatusPassed, 0); r.Groups != nil {
		t.Errorf("groups %v without Info.Groups, want none", r.Groups)
	}
}
