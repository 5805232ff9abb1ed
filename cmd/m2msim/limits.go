package main

import (
	"fmt"
	"io"
	"math"
	"syscall"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// fdHeadroom covers what a run needs besides device sockets: the backend,
// listeners, the result file, the runtime's own descriptors.
const fdHeadroom = 64

// checkOpenFiles raises the soft open-files limit to the hard one, reports
// it, and refuses a plan whose peak number of live connections cannot
// fit. With the embedded broker in this process, each device costs two
// descriptors (both ends of its connection).
func checkOpenFiles(p *sim.Plan, embedded bool, w io.Writer) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	peak := peakDevices(p)
	per := uint64(1)
	if embedded {
		per = 2
	}
	need := uint64(peak)*per + fdHeadroom
	fmt.Fprintf(w, "m2msim: open files: limit %d, this plan needs about %d\n", lim.Cur, need)
	if need > lim.Cur {
		hint := "lower the device count, or split the fleet over several processes"
		if embedded {
			hint = "use an external broker (target.broker: tcp://host:port), which halves the need, or " + hint
		}
		return fmt.Errorf("the plan needs about %d open files (%d connected devices at peak x %d + %d) but this process may open %d: %s",
			need, peak, per, fdHeadroom, lim.Cur, hint)
	}
	return nil
}

// peakDevices estimates the most devices the plan has connected at once.
// Persistent devices count in full at the stages' peak. Per-report
// devices are connected only around their sends: their mean concurrency
// is (active devices) x (time awake per send) / (time between sends),
// with time awake taken as the linger plus one second, and the estimate
// allows four times that.
func peakDevices(p *sim.Plan) int {
	frac := 1.0
	if len(p.Stages) > 0 && p.Devices() > 0 {
		peak := 0
		for _, s := range p.Stages {
			peak = max(peak, s.Devices)
		}
		frac = float64(peak) / float64(p.Devices())
	}
	n := 0
	for _, g := range p.Groups {
		active := int(math.Ceil(float64(g.Count) * frac))
		if every := wakeInterval(g); g.Connect.PerReport && every > 0 {
			awake := g.Connect.Linger + time.Second
			active = min(active, int(math.Ceil(4*float64(active)*float64(awake)/float64(every)))+16)
		}
		n += active
	}
	return n
}

// wakeInterval is the shortest time between a per-report device's sends.
func wakeInterval(g sim.Group) time.Duration {
	var every time.Duration
	if g.Telemetry != nil {
		every = g.Telemetry.Every
	}
	if g.Requests != nil && (every == 0 || g.Requests.Every < every) {
		every = g.Requests.Every
	}
	return every
}
