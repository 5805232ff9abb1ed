// Package coaptest runs CoAP servers for tests: libcoap's example server
// (coap-server-notls, -openssl or -gnutls) as a subprocess on a free
// loopback port, and an in-process Responder for speed.
package coaptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tail"
	"github.com/m2msim/m2msim/transports/coap"
)

// startTimeout bounds how long a server may take to answer.
const startTimeout = 10 * time.Second

// Server is a libcoap example server (coap-server-FLAVOUR) on a free
// loopback port: CoAP over UDP (and TCP) on Port, and for the TLS
// flavours DTLS on Port+1 when given -k KEY. It serves / (GET), /time
// (GET, observable), /async (GET, a separate response; "?N" delays it N
// seconds), /example_data, and creates resources on PUT or POST (up to
// 1000, -d). Its log is shown when the test fails.
type Server struct {
	t    testing.TB
	bin  string
	args []string
	port int
	log  *tail.Buffer

	mu   sync.Mutex // guards cmd and exit
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// binary finds coap-server-FLAVOUR or ends the test: a skip when not in
// CI, a failure in CI (where .ci/servers installs it).
func binary(t testing.TB, flavour string) string {
	t.Helper()
	name := "coap-server-" + flavour
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " not installed: run .ci/servers (or apt-get install libcoap3-bin)"
	if os.Getenv("CI") == "" {
		t.Skip(msg)
	}
	t.Fatal(msg + "; CI requires it")
	return ""
}

// StartServer starts coap-server-FLAVOUR ("notls", "openssl" or
// "gnutls") on a free loopback port with extra args appended (for
// instance "-k", key, "-h", hint for DTLS PSK), and returns once it
// answers a CoAP ping. t.Cleanup stops it by its pid.
func StartServer(t testing.TB, flavour string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t, flavour), args: args, log: &tail.Buffer{Max: 256 << 10}}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", s.bin, s.log.String())
		}
	})
	// A free port can be taken between probing and binding (the tests
	// of other packages dial from ephemeral ports meanwhile), and libcoap
	// then fails to bind or runs on without its TCP endpoint: retry on
	// other ports, each attempt with a log of its own.
	var err error
	for range 5 {
		if s.port, err = freePorts(); err != nil {
			break
		}
		attempt := &tail.Buffer{Max: 256 << 10}
		s.log = attempt
		if err = s.start(); err == nil || !bindFailed(attempt.String()) {
			break
		}
		s.Stop()
	}
	if err != nil {
		t.Fatalf("start %s: %v", s.bin, err)
	}
	return s
}

// freePorts finds a loopback port free for UDP and TCP, with the next
// one free for UDP too (DTLS).
func freePorts() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ok := port < 65535 && free("tcp", port) && free("udp", port+1)
		pc.Close()
		if ok {
			return port, nil
		}
	}
	return 0, errors.New("find a free port: no UDP port with its TCP twin and successor free")
}

func free(network string, port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if network == "tcp" {
		ln, err := net.Listen(network, addr)
		if err == nil {
			ln.Close()
		}
		return err == nil
	}
	pc, err := net.ListenPacket(network, addr)
	if err == nil {
		pc.Close()
	}
	return err == nil
}

// start launches the process and waits until it answers a ping.
func (s *Server) start() error {
	args := append([]string{"-A", "127.0.0.1", "-p", strconv.Itoa(s.port), "-d", "1000"}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", s.bin, err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	s.mu.Lock()
	s.cmd, s.exit = cmd, exit
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for ctx.Err() == nil {
		select {
		case <-exit:
			return fmt.Errorf("%s exited at start (%v); its log follows the test", s.bin, cmd.ProcessState)
		default:
		}
		if bindFailed(s.log.String()) {
			return fmt.Errorf("%s: port %d in use", s.bin, s.port)
		}
		if ping(s.Addr(), 200*time.Millisecond) == nil {
			return nil
		}
	}
	return fmt.Errorf("%s did not answer a ping on %s within %v", s.bin, s.Addr(), startTimeout)
}

// bindFailed reports a libcoap log that says it could not bind its port.
func bindFailed(log string) bool {
	return strings.Contains(log, "in use") || strings.Contains(log, "cannot create UDP endpoint")
}

// ping sends one CoAP ping and waits up to d for its RST.
func ping(addr string, d time.Duration) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	out, _ := (&coap.Message{Type: coap.Confirmable, Code: coap.Empty, MessageID: 0x5ee}).MarshalBinary()
	if _, err := c.Write(out); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	var m coap.Message
	if err := coap.Decode(buf[:n], &m); err != nil || m.Type != coap.Reset || m.MessageID != 0x5ee {
		return fmt.Errorf("ping answered with %x", buf[:n])
	}
	return nil
}

// Addr returns the server's CoAP host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// SecureAddr returns the server's DTLS host:port (Port+1), which it
// listens on when given -k KEY.
func (s *Server) SecureAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port+1)) }

// Log returns the server's recent log output (the last 256 KiB).
func (s *Server) Log() string { return s.log.String() }

// PID returns the server's process id, or 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the server by its pid and waits for it to exit. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.cmd, s.exit = nil, nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exit
}
