package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NamePrefix starts the name of every namespace m2msim creates; the PID
// of the creating process follows, so leftovers of a dead run are found.
const NamePrefix = "m2m-"

// netnsDir is where named namespaces are bind-mounted (iproute2's place).
const netnsDir = "/run/netns"

// wires numbers the wires of this process, for unique names.
var wires atomic.Uint64

// nsNames returns the device and server namespace names of a new wire.
func nsNames() (dev, srv string) {
	base := fmt.Sprintf("%s%d-%d", NamePrefix, os.Getpid(), wires.Add(1))
	return base + "-dev", base + "-srv"
}

// inNS runs fn on a locked OS thread switched into ns and switches back.
// If switching back fails the thread stays locked, so the runtime retires
// it rather than reuse a thread in the wrong namespace.
func inNS(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: current namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: enter namespace: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, fmt.Errorf("kernel: leave namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// newNamed creates a named namespace without moving the caller into it,
// and returns a handle to it.
func newNamed(name string) (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), fmt.Errorf("kernel: current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		if h.IsOpen() {
			h.Close()
		}
		return netns.None(), fmt.Errorf("kernel: leave namespace %s: %w", name, serr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return netns.None(), fmt.Errorf("kernel: create namespace %s: %w", name, err)
	}
	return h, nil
}

// deleteNamed removes a named namespace's bind mount and file; a missing
// one is not an error.
func deleteNamed(name string) error {
	p := filepath.Join(netnsDir, name)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil {
		if uerr := unix.Unmount(p, unix.MNT_DETACH); uerr == nil || errors.Is(uerr, unix.EINVAL) {
			if rerr := os.Remove(p); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
				return nil
			}
		}
		return fmt.Errorf("kernel: delete namespace %s: %w", name, err)
	}
	return nil
}

// RemoveLeftovers deletes the namespaces (/run/netns/m2m-PID-...) of runs
// whose process is no longer alive, and returns their names. Open calls it.
func RemoveLeftovers() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kernel: list %s: %w", netnsDir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		pid, ok := ownerPID(e.Name())
		if !ok || alive(pid) {
			continue
		}
		if err := deleteNamed(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// ownerPID parses the PID out of an m2msim namespace name.
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

// alive reports whether a process with this PID exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
