package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// target is a server address a scenario's devices reach.
type target struct{ network, addr string }

// serverCmd is link.server_command, running in the wire's server
// namespace for the run.
type serverCmd struct {
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited closes
}

// startServerCmd starts args inside w's server namespace and waits until
// it serves every target (a TCP connect succeeds; a UDP port is bound),
// or it exits, or serverDeadline passes.
func startServerCmd(ctx context.Context, w packetNet, args []string, targets []target, log *slog.Logger) (*serverCmd, error) {
	cmd := exec.Command(args[0], args[1:]...)
	out := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = serverProcAttr()
	if err := w.Start(cmd); err != nil {
		return nil, fmt.Errorf("link.server_command: %w", err)
	}
	sc := &serverCmd{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { sc.err = cmd.Wait(); close(sc.exited) }()
	log.Info("started link.server_command in the server namespace", "pid", cmd.Process.Pid, "namespace", w.ServerNS())
	deadline := time.Now().Add(serverDeadline)
	for _, t := range targets {
		if err := sc.await(ctx, w, t, deadline); err != nil {
			sc.stop()
			return nil, fmt.Errorf("link.server_command %s: %w", strings.Join(args, " "), err)
		}
	}
	return sc, nil
}

// await polls until t is served, the process exits, ctx ends or deadline
// passes.
func (sc *serverCmd) await(ctx context.Context, w packetNet, t target, deadline time.Time) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if serving(w, t) {
			return nil
		}
		select {
		case <-sc.exited:
			return fmt.Errorf("exited (%v) before serving %s %s; its output: %s", sc.err, t.network, t.addr, sc.out.String())
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s %s: %w", t.network, t.addr, ctx.Err())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not serving %s %s after %s; its output: %s", t.network, t.addr, serverDeadline, sc.out.String())
		}
	}
}

// serving reports whether t is served in w's server namespace: a TCP
// connect succeeds, or a UDP port is taken.
func serving(w packetNet, t target) bool {
	if t.network == "udp" {
		pc, err := w.ListenPacketServer("udp4", t.addr)
		if err != nil {
			return errors.Is(err, syscall.EADDRINUSE)
		}
		pc.Close()
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := w.ServerDialer()(ctx, "tcp4", t.addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// stop ends the server by its PID: SIGTERM, then SIGKILL after 5 s.
func (sc *serverCmd) stop() error {
	select {
	case <-sc.exited:
		return nil
	default:
	}
	_ = sc.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-sc.exited:
		return nil
	case <-t.C:
	}
	_ = sc.cmd.Process.Kill()
	<-sc.exited
	return errors.New("link.server_command: did not stop within 5s of SIGTERM; killed")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex // guards b
	b   bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}
