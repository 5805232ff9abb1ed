package report_test

import (
	"fmt"
	"os"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
)

func Example() {
	c := report.NewCollector(report.Info{Name: "example", Seed: 1, Devices: 1, Duration: 2 * time.Second,
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
	// The engine calls Record from many goroutines.
	c.Record(sim.Event{Kind: sim.Connected, At: 20 * time.Millisecond, Latency: 20 * time.Millisecond})
	for i := range 4 {
		at := time.Duration(i) * 500 * time.Millisecond
		c.Record(sim.Event{Kind: sim.Published, At: at, Intended: at, Timed: true})
		c.Record(sim.Event{Kind: sim.BackendLag, At: at + 1850*time.Microsecond, Latency: 50 * time.Microsecond})
		c.Record(sim.Event{Kind: sim.Delivered, At: at + 1800*time.Microsecond, Latency: 1800 * time.Microsecond, Intended: at})
	}
	c.Record(sim.Event{Kind: sim.Closed, At: 2 * time.Second})

	r := c.Result(report.StatusPassed, 2*time.Second)
	t, err := report.ParseThreshold("latency.e2e.p99 < 250ms")
	if err != nil {
		fmt.Println(err)
		return
	}
	report.Evaluate(r, []report.Threshold{t})
	if err := report.WriteSummary(os.Stdout, r); err != nil {
		fmt.Println(err)
	}
	// Output:
	// m2msim example  PASSED
	// seed 1, started 2025-01-02T03:04:05Z, ran 2s of 2s planned
	//
	// devices   1 planned, 1 connected at most; 1 connects, 0 failed (100% success), 0 disconnects, 0 reconnects, 1 closed
	// messages  4 sent, 0 acked, 4 received, 0 duplicates, 0 publish failures
	// lost      none of 4 timed
	// backend   timed end to end: all 1 device; lag p99 50µs, max 50µs: kept up
	// errors    none
	//
	//   latency ms    count  missing     p50     p90     p99   p99.9     max    mean
	//   connect           1        0  20.000  20.000  20.000  20.000  20.000  20.000
	//   e2e               4        0   1.800   1.800   1.800   1.800   1.800   1.800
	//   schedule lag      4        -   0.000   0.000   0.000   0.000   0.000   0.000
	//   backend lag       4        -   0.050   0.050   0.050   0.050   0.050   0.050
	//
	// thresholds
	//   PASS  latency.e2e.p99 < 250ms  actual 1.8
}

func ExampleParseThreshold() {
	for _, expr := range []string{"connect.success >= 99.9%", "protocol.http.latency.e2e.p99 < 250ms", "latency.e2e.p99 < 99.9%"} {
		t, err := report.ParseThreshold(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %s %g (scope %q %q)\n", t.Metric, t.Op, t.Value, t.Scope, t.Of)
	}
	// Output:
	// connect.success >= 99.9 (scope "" "")
	// protocol.http.latency.e2e.p99 < 250 (scope "protocol" "http")
	// threshold "latency.e2e.p99 < 99.9%": "99.9%" is a percent but latency.e2e.p99 is a duration
}
