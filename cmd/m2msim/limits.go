package main

import (
	"fmt"
	"io"
	"syscall"

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
		return fmt.Errorf("the plan needs about %d open files (%d devices x %d + %d) but this process may open %d: %s",
			need, peak, per, fdHeadroom, lim.Cur, hint)
	}
	return nil
}

// peakDevices is the largest number of devices the plan has active at
// once.
func peakDevices(p *sim.Plan) int {
	if len(p.Stages) == 0 {
		return p.Devices()
	}
	peak := 0
	for _, s := range p.Stages {
		peak = max(peak, s.Devices)
	}
	return peak
}
