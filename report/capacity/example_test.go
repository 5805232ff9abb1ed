package capacity_test

import (
	"fmt"

	"github.com/m2msim/m2msim/report/capacity"
)

func Example() {
	// A ramp at 1 msg/s per device; m2msim ran on 8 cores.
	stages := []capacity.Stage{
		{Name: "ramp-1", Devices: 1000, OfferedPerSec: 1000, ThroughputPerSec: 1000, P99MS: 42, Passed: true, ScheduleLagP99MS: 0.4, CPUPct: 60, Cores: 8},
		{Name: "ramp-2", Devices: 2500, OfferedPerSec: 2500, ThroughputPerSec: 2490, P99MS: 45, Passed: true, ScheduleLagP99MS: 0.5, CPUPct: 120, Cores: 8},
		{Name: "ramp-3", Devices: 5000, OfferedPerSec: 5000, ThroughputPerSec: 4900, P99MS: 51, Passed: true, ScheduleLagP99MS: 0.7, CPUPct: 210, Cores: 8},
		{Name: "ramp-4", Devices: 7500, OfferedPerSec: 7500, ThroughputPerSec: 6900, P99MS: 88, Passed: true, ScheduleLagP99MS: 0.9, CPUPct: 300, Cores: 8},
		{Name: "ramp-5", Devices: 10000, OfferedPerSec: 10000, ThroughputPerSec: 8000, P99MS: 1840, ConnectFailPct: 3, ScheduleLagP99MS: 1.2, CPUPct: 380, Cores: 8},
	}
	a := capacity.Analyze(stages, "e2e")
	fmt.Println("knee:", stages[a.Knee.Index].Name, "limiter:", a.Limiter.Who)
	for _, s := range a.Sentences {
		fmt.Println(s)
	}
	// Output:
	// knee: ramp-4 limiter: server
	// e2e p99 stays at or below 88 ms up to 7,500 devices; at 10,000 it is 1.84 s and 3 % of connects fail; largest stage meeting every threshold: 7,500.
	// the server ran out first: its p99 climbs after 7,500 devices, while m2msim kept up through 10,000 (schedule lag p99 at most 1.2 ms, CPU at most 47.5 % of its cores, open files not measured).
	// throughput fits the Universal Scalability Law with R² 0.999 (λ 1.06 msg/s for one device, σ 0, κ 3.13e-09): it would peak at 9,470 msg/s near 17,900 devices, beyond the largest stage (10,000).
	// completed throughput falls short of the offered load from 7,500 devices: 6,900 of 7,500 msg/s (92 %).
}

func ExampleKneedle() {
	devices := []float64{1000, 2000, 3000, 4000, 5000, 6000}
	p99 := []float64{20, 21, 22, 24, 300, 900}
	i, ok := capacity.Kneedle(devices, p99, 1)
	fmt.Println(devices[i], ok)
	// Output: 4000 true
}

func ExampleFitUSL() {
	devices := []float64{1, 2, 4, 8, 16, 32, 64, 128}
	truth := capacity.USL{Lambda: 100, Sigma: 0.02, Kappa: 0.0005}
	var throughput []float64
	for _, n := range devices {
		throughput = append(throughput, truth.Throughput(n))
	}
	u, err := capacity.FitUSL(devices, throughput)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("σ %.3f, κ %.4f: peak %.0f msg/s at %.0f devices\n", u.Sigma, u.Kappa, u.PeakThroughput, u.PeakDevices)
	// Output: σ 0.020, κ 0.0005: peak 1568 msg/s at 44 devices
}
