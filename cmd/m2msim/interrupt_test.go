package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// process is the m2msim binary running as a child, its output in files.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr string // file paths
	exited         chan struct{}
}

func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	return startBinaryIn(t, "", args...)
}

// startBinaryIn starts m2msim with args in the working directory wd (the
// test's own when "").
func startBinaryIn(t *testing.T, wd string, args ...string) *process {
	t.Helper()
	dir := t.TempDir()
	p := &process{stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr"), exited: make(chan struct{})}
	stdout, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	p.cmd = exec.Command(m2msimBinary(t), args...)
	p.cmd.Dir = wd
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("m2msim stdout:\n%s\nm2msim stderr:\n%s", readFile(p.stdout), readFile(p.stderr))
		}
	})
	return p
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal m2msim (pid %d): %v", p.cmd.Process.Pid, err)
	}
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// A second Ctrl-C ends a drain that would otherwise wait an hour for acks
// a stopped broker never sends: m2msim exits 3 at once, with the result
// written as "aborted".
func TestBinarySecondInterruptAborts(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	out := filepath.Join(t.TempDir(), "out")
	s := writeScenario(t, mosquittoScenario(m.Addr(), `duration: 1h
drain: 1h
groups:
  - {name: m, count: 50, connect: {rate: 1000/s}, telemetry: {every: 100ms, qos: 1}}
`))
	p := startBinary(t, "run", s, "--out", out, "--progress", "100ms")
	progress := func() int { return strings.Count(readFile(p.stdout), "connected 50/50") }
	eventually(t, 20*time.Second, "all 50 devices connected", func() bool { return progress() > 0 || !p.running() })
	m.Pause() // acks stop: every send from now on stays in flight
	since := progress()
	eventually(t, 10*time.Second, "sends while the broker is stopped", func() bool { return progress() >= since+3 || !p.running() })

	p.signal(t, os.Interrupt)
	eventually(t, 10*time.Second, "the drain begins", func() bool {
		return strings.Contains(readFile(p.stderr), "interrupted: the schedule stopped; waiting up to 1h0m0s") || !p.running()
	})
	if !p.running() {
		t.Fatalf("m2msim exited after one interrupt (%v); want it draining", p.cmd.ProcessState)
	}
	start := time.Now()
	p.signal(t, os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(abortGrace + 10*time.Second):
		t.Fatalf("m2msim still running %v after the second interrupt", time.Since(start))
	}
	took := time.Since(start)
	t.Logf("exited %v after the second interrupt", took)
	if code := p.cmd.ProcessState.ExitCode(); code != exitAborted {
		t.Errorf("exit code %d, want %d (aborted)", code, exitAborted)
	}
	r := readResult(t, out)
	if r.Status != report.StatusAborted || r.Messages.Sent == 0 || r.Messages.Acked >= r.Messages.Sent {
		t.Errorf("result status %q, messages %+v; want aborted with sends left unacked", r.Status, r.Messages)
	}
	errs := readFile(p.stderr)
	if strings.Contains(errs, "had not stopped") {
		t.Errorf("the watchdog ended the run after %v: the engine did not return after Abort", took)
	}
	for _, want := range []string{
		"m2msim: second interrupt: cutting the drain short",
		"m2msim: aborted: the drain was cut short, so messages still in flight count as unfinished; result: " + filepath.Join(out, "result.json") + "\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(readFile(p.stdout), "ABORTED") {
		t.Errorf("no summary on stdout")
	}
}
