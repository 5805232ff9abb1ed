// Package mqtttest runs real MQTT brokers for tests: a Mosquitto
// subprocess on a free loopback port, and the embedded mochi broker.
package mqtttest

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tail"
)

// startTimeout bounds how long a broker may take to accept connections.
const startTimeout = 10 * time.Second

// MosquittoOption changes the broker's configuration.
type MosquittoOption func(*mosquittoConfig)

type mosquittoConfig struct {
	users map[string]string
	tls   *TLS
	extra []string
}

// WithUser adds a user with a password and turns anonymous access off,
// so clients without these credentials get CONNACK "not authorized".
func WithUser(name, password string) MosquittoOption {
	return func(c *mosquittoConfig) {
		if c.users == nil {
			c.users = map[string]string{}
		}
		c.users[name] = password
	}
}

// WithConfig appends raw lines to mosquitto.conf.
func WithConfig(lines ...string) MosquittoOption {
	return func(c *mosquittoConfig) { c.extra = append(c.extra, lines...) }
}

// Mosquitto is a mosquitto subprocess on a free loopback port with its own
// config file in t.TempDir(). Its log is shown when the test fails.
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	port int
	log  *tail.Buffer
	// tlsCA is the PEM file of the CA of a TLS listener's certificate.
	tlsCA string

	mu   sync.Mutex // guards cmd and exit
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// mosquittoBinary finds the broker or ends the test: a skip when not in
// CI, a failure in CI (where .ci/run installs it).
func mosquittoBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if os.Getenv("CI") == "" {
		t.Skip("mosquitto not installed: run .ci/servers (or apt-get install mosquitto)")
	}
	t.Fatal("mosquitto not installed: run .ci/servers (or apt-get install mosquitto); CI requires it")
	return ""
}

// StartMosquitto is a mosquitto subprocess on a free loopback port with its
// own config file in t.TempDir(). It returns once the port accepts
// connections; t.Cleanup stops it.
func StartMosquitto(t testing.TB, opts ...MosquittoOption) *Mosquitto {
	t.Helper()
	bin := mosquittoBinary(t)
	var cfg mosquittoConfig
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()
	m := &Mosquitto{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: &tail.Buffer{Max: 256 << 10}}
	if cfg.tls != nil {
		m.tlsCA = filepath.Join(dir, "ca.pem")
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.log.String())
		}
	})
	// A free port can be taken between probing and binding: try a few.
	var err error
	for range 5 {
		if m.port, err = freePort(); err != nil {
			break
		}
		if err = writeConfig(dir, m.conf, m.port, &cfg); err != nil {
			break
		}
		if err = m.start(); err == nil || !strings.Contains(m.log.String(), "in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	return m
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func writeConfig(dir, path string, port int, c *mosquittoConfig) error {
	lines := []string{
		"listener " + strconv.Itoa(port) + " 127.0.0.1",
		"persistence false",
		"log_dest stderr",
		"log_type error", "log_type warning", "log_type notice",
		// Answer small packets at once: Nagle's algorithm on the broker
		// would add tens of milliseconds to the latencies tests look at.
		"set_tcp_nodelay true",
	}
	if u, err := user.Current(); err == nil {
		// Run as whoever runs the test: as root, mosquitto would switch
		// to user "mosquitto", who cannot read files in t.TempDir().
		lines = append(lines, "user "+u.Username)
	}
	if len(c.users) == 0 {
		lines = append(lines, "allow_anonymous true")
	} else {
		pw := filepath.Join(dir, "passwd")
		if err := writePasswords(pw, c.users); err != nil {
			return err
		}
		lines = append(lines, "allow_anonymous false", "password_file "+pw)
	}
	if c.tls != nil {
		tl, err := c.tls.files(dir)
		if err != nil {
			return err
		}
		lines = append(lines, tl...)
	}
	lines = append(lines, c.extra...)
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// writePasswords writes a mosquitto password file in its "$6$" format
// (SHA-512 of password then salt), which mosquitto 2.x still reads, so
// tests need no mosquitto_passwd.
func writePasswords(path string, users map[string]string) error {
	var b strings.Builder
	for name, pw := range users {
		salt := make([]byte, 12)
		rand.Read(salt)
		sum := sha512.Sum512(append([]byte(pw), salt...))
		fmt.Fprintf(&b, "%s:$6$%s$%s\n", name,
			base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(sum[:]))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// start launches the process and waits until it accepts connections.
func (m *Mosquitto) start() error {
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", m.bin, err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	m.mu.Lock()
	m.cmd, m.exit = cmd, exit
	m.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			return fmt.Errorf("mosquitto exited at start (%v); its log follows the test", cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Stop()
	return fmt.Errorf("mosquitto did not accept on %s within %v", m.Addr(), startTimeout)
}

// Addr returns the broker's host:port.
func (m *Mosquitto) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)) }

// Log returns the broker's recent log output (the last 256 KiB).
func (m *Mosquitto) Log() string { return m.log.String() }

// PID returns the broker's process id, or 0 when it is stopped.
func (m *Mosquitto) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Stop kills the broker and waits for it to exit. Its clients see their
// connections drop. Stopping a stopped broker does nothing.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	cmd, exit := m.cmd, m.exit
	m.cmd, m.exit = nil, nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill() // SIGKILL works on a paused process too
	<-exit
}

// Restart stops the broker and starts it again on the same port, returning
// once it accepts connections. Sessions are not persisted across it.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Stop()
	var err error
	// The port can linger briefly after a kill: retry within the bound.
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("restart mosquitto: %v", err)
}

// Pause stops the broker process (SIGSTOP): connections stay open but
// nothing is answered.
func (m *Mosquitto) Pause() { m.signal(syscall.SIGSTOP) }

// Resume continues a paused broker (SIGCONT).
func (m *Mosquitto) Resume() { m.signal(syscall.SIGCONT) }

func (m *Mosquitto) signal(sig os.Signal) {
	m.t.Helper()
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if cmd == nil {
		m.t.Fatalf("mosquitto: signal %v: not running", sig)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("mosquitto: signal %v: %v", sig, err)
	}
}
