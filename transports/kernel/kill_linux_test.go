package kernel

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/rootonly"

	"github.com/m2msim/m2msim/transports/netem"
)

// childEnv makes the test binary a wire-holding child (TestWireChild).
const childEnv = "M2M_KERNEL_WIRE_CHILD"

// TestMain runs the test binary as a wire-holding child when
// leftoversAfterKill asks for one (childEnv: wire or qdisc): it opens one,
// prints its namespaces' names and waits at most 30 s to be killed.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "unprivileged":
		unprivilegedChild()
	}
	var n interface {
		DeviceNS() string
		ServerNS() string
		Close() error
	}
	var err error
	if os.Getenv(childEnv) == "qdisc" {
		n, err = OpenQdisc(QdiscConfig{Groups: []QdiscGroup{{Count: 1, Link: netem.Link{Up: netem.Profile{Rate: 1_000_000}}}}})
	} else {
		n, err = Open(Config{})
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("wire", n.DeviceNS(), n.ServerNS())
	time.Sleep(30 * time.Second)
	n.Close()
	os.Exit(0)
}

// A run killed with SIGKILL leaves its namespaces behind; the next start
// (RemoveLeftovers, which Open calls) finds them by the dead PID and
// removes them.
func TestLeftoversAfterKill(t *testing.T) {
	leftoversAfterKill(t, "wire")
}

// leftoversAfterKill runs a child holding a network of this kind ("wire"
// or "qdisc"), kills it and checks that RemoveLeftovers removes its
// namespaces.
func leftoversAfterKill(t *testing.T, kind string) {
	rootonly.Need(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	names := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 && (f[0] == "wire" || f[0] == "error") {
				names <- f
				break
			}
		}
		close(names)
	}()
	var got []string
	select {
	case got = <-names:
	case <-time.After(10 * time.Second):
		t.Fatal("the child did not report its wire within 10 s")
	}
	if len(got) != 3 || got[0] != "wire" {
		t.Fatalf("child: %v", got)
	}
	for _, name := range got[1:] {
		t.Cleanup(func() { deleteNamed(name) })
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, name := range got[1:] {
		if _, err := os.Stat(filepath.Join(netnsDir, name)); err != nil {
			t.Fatalf("after SIGKILL, %s: %v; want it left behind for this test", name, err)
		}
	}
	removed, err := RemoveLeftovers()
	if err != nil {
		t.Fatalf("RemoveLeftovers: %v", err)
	}
	for _, name := range got[1:] {
		if !slices.Contains(removed, name) {
			t.Errorf("RemoveLeftovers removed %v, want %s among them", removed, name)
		}
		if _, err := os.Stat(filepath.Join(netnsDir, name)); !os.IsNotExist(err) {
			t.Errorf("after RemoveLeftovers, %s: %v, want it gone", name, err)
		}
	}
}
