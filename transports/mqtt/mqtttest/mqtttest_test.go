package mqtttest_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// connectPacket is CONNECT for client "t" with the given user and password
// (both omitted when empty).
func connectPacket(user, pass string) []byte {
	flags := byte(2)
	payload := []byte{0, 1, 't'}
	if user != "" {
		flags |= 0x80 | 0x40
		payload = append(payload, 0, byte(len(user)))
		payload = append(payload, user...)
		payload = append(payload, 0, byte(len(pass)))
		payload = append(payload, pass...)
	}
	vh := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 0}
	body := append(vh, payload...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

// connack sends CONNECT on c and returns the CONNACK return code, or -1
// when none arrives within wait.
func connack(t *testing.T, c net.Conn, user, pass string, wait time.Duration) int {
	t.Helper()
	if _, err := c.Write(connectPacket(user, pass)); err != nil {
		t.Fatal(err)
	}
	return readConnack(t, c, wait)
}

func readConnack(t *testing.T, c net.Conn, wait time.Duration) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		return -1
	}
	if b[0] != 0x20 || b[1] != 2 {
		t.Fatalf("reply % x is not a CONNACK", b)
	}
	return int(b[3])
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMosquittoLifecycle(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	pid := m.PID()
	if pid <= 0 {
		t.Fatalf("PID() = %d, want a process id", pid)
	}
	if code := connack(t, dial(t, m.Addr()), "", "", 5*time.Second); code != 0 {
		t.Fatalf("CONNACK code = %d, want 0", code)
	}

	m.Pause()
	c := dial(t, m.Addr()) // the kernel completes the handshake for a stopped process
	if code := connack(t, c, "", "", 300*time.Millisecond); code != -1 {
		t.Fatalf("paused broker answered CONNECT with code %d", code)
	}
	m.Resume()
	if code := readConnack(t, c, 5*time.Second); code != 0 {
		t.Fatalf("resumed broker: CONNACK code = %d, want 0", code)
	}

	addr := m.Addr()
	m.Restart()
	if m.Addr() != addr || m.PID() == pid || m.PID() <= 0 {
		t.Fatalf("after Restart: %s pid %d, want %s and a new pid (old %d)", m.Addr(), m.PID(), addr, pid)
	}
	if code := connack(t, dial(t, m.Addr()), "", "", 5*time.Second); code != 0 {
		t.Fatalf("after Restart: CONNACK code = %d, want 0", code)
	}

	m.Stop()
	if m.PID() != 0 {
		t.Errorf("PID() after Stop = %d, want 0", m.PID())
	}
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("stopped broker still accepts connections")
	}
	m.Stop() // stopping twice is harmless
}

func TestMosquittoWithUser(t *testing.T) {
	m := mqtttest.StartMosquitto(t, mqtttest.WithUser("dev", "pw"), mqtttest.WithConfig("max_connections 10"))
	tests := []struct {
		user, pass string
		want       int
	}{
		{"", "", 5},
		{"dev", "wrong", 5},
		{"dev", "pw", 0},
	}
	for _, tt := range tests {
		if got := connack(t, dial(t, m.Addr()), tt.user, tt.pass, 5*time.Second); got != tt.want {
			t.Errorf("CONNECT as %q/%q: code %d, want %d", tt.user, tt.pass, got, tt.want)
		}
	}
}

func TestStartMochi(t *testing.T) {
	addr := mqtttest.StartMochi(t)
	if code := connack(t, dial(t, addr), "", "", 5*time.Second); code != 0 {
		t.Fatalf("CONNACK code = %d, want 0", code)
	}
}

func TestConnectPacketFixture(t *testing.T) {
	// Guards the helper the other tests rely on.
	want := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 1, 't'}
	if got := connectPacket("", ""); !bytes.Equal(got, want) {
		t.Fatalf("connectPacket() = % x, want % x", got, want)
	}
}
