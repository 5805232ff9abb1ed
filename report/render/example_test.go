package render_test

import (
	"fmt"
	"os"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/report/render"
)

func ExampleCSV() {
	points := []report.Point{
		{T: 1, Active: 2, Devices: report.DeviceStates{Connecting: 2},
			Rates: map[string]float64{"connects": 0}, Self: report.Self{OpenFiles: 9, OpenFilesMax: 1024}},
		{T: 2, Active: 2, Devices: report.DeviceStates{Connected: 2},
			Rates:   map[string]float64{"connects": 2, "sent": 4},
			Latency: map[string]report.Quantiles{"connect": {Count: 2, P50: 18.5, P90: 21, P99: 21, Max: 21}},
			Self:    report.Self{ScheduleLagMS: 0.2, CPUPct: 3.5, OpenFiles: 11, OpenFilesMax: 1024}},
	}
	if err := render.CSV(os.Stdout, points); err != nil {
		fmt.Println(err)
	}
	// Output:
	// t,stage,active,connecting,connected,sleeping,offline,connects_per_s,sent_per_s,connect_p50_ms,connect_p90_ms,connect_p99_ms,connect_max_ms,connect_count,errors,self_schedule_lag_max_ms,self_cpu_pct,self_open_files,self_open_files_limit
	// 1,,2,2,0,0,0,0,,,,,,,0,0,0,9,1024
	// 2,,2,0,2,0,0,2,4,18.5,21,21,21,2,0,0.2,3.5,11,1024
}

func ExampleJUnit() {
	r := &report.Result{
		Status: report.StatusFailed, Seed: 1, Scenario: report.Scenario{Name: "smoke"}, ElapsedS: 2,
		Started: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Thresholds: []report.ThresholdResult{{Expr: "latency.e2e.p99 < 250ms", Actual: report.Judged{V: 312.5},
			Reason: "latency.e2e.p99 is 312.5ms, not < 250ms"}},
	}
	if err := render.JUnit(os.Stdout, r); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <testsuites name="m2msim" tests="1" failures="1" errors="0" time="2.000">
	//   <testsuite name="m2msim: smoke" tests="1" failures="1" errors="0" skipped="0" time="2.000" timestamp="2025-01-02T03:04:05">
	//     <properties>
	//       <property name="seed" value="1"></property>
	//       <property name="status" value="failed"></property>
	//     </properties>
	//     <testcase name="latency.e2e.p99 &lt; 250ms" classname="smoke" time="0.000">
	//       <failure message="measured 312.5ms against limit &lt; 250ms" type="threshold">latency.e2e.p99 is 312.5ms, not &lt; 250ms</failure>
	//     </testcase>
	//   </testsuite>
	// </testsuites>
}
