package main

import (
	"os"
	"syscall"
	"time"

	"github.com/m2msim/m2msim/internal/procs"
	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
)

// filesEvery is how often the observer counts open files: listing
// /proc/self/fd costs milliseconds at 10,000 connections.
const filesEvery = 5

// startObserver gives the collector a look at the fleet's states and at
// m2msim's own CPU and open files once a second, and a last look when the
// returned stop function is called, unless the engine hung (its census
// could wait on it). The engine's census and the process
// figures say in the report whether the generator or the server ran out
// first.
func startObserver(coll *report.Collector, eng *sim.Engine, gov *procs.Governor) (stop func(last bool)) {
	done, exited := make(chan struct{}), make(chan struct{})
	var files, limit int64
	look := func(n int) {
		if n%filesEvery == 0 {
			files, limit = openFiles()
		}
		coll.Observe(report.Observation{At: coll.Elapsed(), Census: eng.Census(), CPU: processCPU(),
			OpenFiles: files, OpenFilesLimit: limit, Cores: gov.Max(), Procs: gov.Procs()})
	}
	look(0) // the CPU time at the start, for the first interval's share
	go func() {
		defer close(exited)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
				look(n)
			}
		}
	}()
	return func(last bool) {
		close(done)
		<-exited
		if last {
			look(0)
		}
	}
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openFiles counts the process's open files (on Linux; 0 elsewhere) and
// reads its soft limit.
func openFiles() (n, limit int64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		limit = int64(lim.Cur)
	}
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, limit
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return int64(len(names)), limit
}
