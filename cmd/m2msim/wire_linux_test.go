package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/rootonly"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/kernel"
)

// namespacesOf lists the wire namespaces the process pid made.
func namespacesOf(pid int) []string {
	entries, _ := os.ReadDir("/run/netns")
	prefix := fmt.Sprintf("%s%d-", kernel.NamePrefix, pid)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// wireScenario is a wire run of ten devices against the embedded broker,
// inside the server namespace.
func wireScenario(t *testing.T, duration string) string {
	return writeScenario(t, `version: 1
name: wire
seed: 5
duration: `+duration+`
drain: 2s
link: {engine: wire}
groups:
  - name: d
    count: 10
    connect: {rate: 100/s}
    link: {up: "delay 20ms", down: "delay 20ms"}
    telemetry: {every: 100ms, qos: 1}
`)
}

// startWireRun starts an endless wire run and waits until its devices
// are connected and its namespaces exist.
func startWireRun(t *testing.T, out string) *process {
	t.Helper()
	p := startBinary(t, "run", wireScenario(t, "1h"), "--out", out, "--progress", "100ms", "--web", "off")
	eventually(t, 20*time.Second, "10 devices connected across the wire", func() bool {
		return strings.Contains(readFile(p.stdout), "connected 10/10") || !p.running()
	})
	if !p.running() {
		t.Fatalf("m2msim exited early: %v", p.cmd.ProcessState)
	}
	if ns := namespacesOf(p.cmd.Process.Pid); len(ns) != 2 {
		t.Fatalf("namespaces of the run: %v, want its device and server namespaces", ns)
	}
	return p
}

// A wire run killed by SIGKILL cannot clean up: its namespaces stay,
// and the next wire run removes them before it starts.
func TestBinaryWireKilledRunIsCleanedByTheNext(t *testing.T) {
	rootonly.Need(t)
	p := startWireRun(t, filepath.Join(t.TempDir(), "out"))
	pid := p.cmd.Process.Pid
	p.signal(t, syscall.SIGKILL)
	<-p.exited
	if ns := namespacesOf(pid); len(ns) != 2 {
		t.Fatalf("after SIGKILL, namespaces %v: want both left behind (nothing ran to remove them)", ns)
	}
	next := startBinary(t, "run", wireScenario(t, "1s"), "--out", filepath.Join(t.TempDir(), "out2"), "--web", "off")
	select {
	case <-next.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the next run did not end within 60 s")
	}
	if code := next.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("next run exit code %d, want 0", code)
	}
	if ns := namespacesOf(pid); len(ns) != 0 {
		t.Errorf("the killed run's namespaces %v are still there after the next run", ns)
	}
	if ns := namespacesOf(next.cmd.Process.Pid); len(ns) != 0 {
		t.Errorf("the next run left %v", ns)
	}
}

// Ctrl-C during a wire run drains, writes the result (with the kernel's
// figures in it) and removes the namespaces.
func TestBinaryWireInterruptWritesResultAndCleansUp(t *testing.T) {
	rootonly.Need(t)
	out := filepath.Join(t.TempDir(), "out")
	p := startWireRun(t, out)
	p.signal(t, os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("m2msim still running 30 s after Ctrl-C")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit code %d, want %d (interrupted)", code, exitInterrupted)
	}
	r := readResult(t, out)
	if r.Status != report.StatusInterrupted || r.Messages.Acked == 0 {
		t.Errorf("result status %q, messages %+v: want interrupted, with acks", r.Status, r.Messages)
	}
	// 20 ms each way: the kernel's smoothed RTT is at least 40 ms, its
	// sum over 10 connections at least 400 ms.
	if h := r.Metrics.Latency["tcp_rtt"]; h == nil || h.Run.N != 10 || h.Run.SumNS < 400e6 {
		t.Errorf("tcp_rtt in the result: %+v, want 10 connections at >= 40 ms", h)
	}
	if ns := namespacesOf(p.cmd.Process.Pid); len(ns) != 0 {
		t.Errorf("namespaces %v left after Ctrl-C", ns)
	}
}
