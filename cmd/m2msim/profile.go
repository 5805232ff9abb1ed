package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profiles are the run's --cpuprofile and --memprofile files, open from
// before the target is opened until the result is written.
type profiles struct {
	cpu, mem *os.File
}

// startProfiles creates the files the flags name (either may be empty)
// and starts the CPU profile, so that a path that cannot be written is
// refused before anything runs.
func startProfiles(cpuPath, memPath string) (*profiles, error) {
	p := &profiles{}
	var err error
	if cpuPath != "" {
		if p.cpu, err = os.Create(cpuPath); err != nil {
			return nil, usageErr("run: --cpuprofile: %v (nothing was run)", err)
		}
		if err = pprof.StartCPUProfile(p.cpu); err != nil {
			p.cpu.Close()
			return nil, usageErr("run: --cpuprofile: %v (nothing was run)", err)
		}
	}
	if memPath != "" {
		if p.mem, err = os.Create(memPath); err != nil {
			p.stop()
			return nil, usageErr("run: --memprofile: %v (nothing was run)", err)
		}
	}
	return p, nil
}

// stop ends the CPU profile and writes the heap profile, after a garbage
// collection so that it shows what is live at the end of the run (its
// allocation counts cover the whole run).
func (p *profiles) stop() error {
	var errs []error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--cpuprofile: %w", err))
		}
		p.cpu = nil
	}
	if p.mem != nil {
		runtime.GC()
		err := errors.Join(pprof.Lookup("heap").WriteTo(p.mem, 0), p.mem.Close())
		if err != nil {
			errs = append(errs, fmt.Errorf("--memprofile: %w", err))
		}
		p.mem = nil
	}
	return errors.Join(errs...)
}
