package scenarios

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Capability bits the wire needs (linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// hasWireCaps reports whether the process holds CAP_NET_ADMIN and
// CAP_SYS_ADMIN in its effective set (root does).
func hasWireCaps() bool {
	if os.Geteuid() == 0 {
		return true
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return err == nil && caps&(1<<capNetAdmin) != 0 && caps&(1<<capSysAdmin) != 0
	}
	return false
}

// serverProcAttr makes link.server_command die with m2msim: killed, it
// would otherwise hold the namespace; the next run removes its name.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
