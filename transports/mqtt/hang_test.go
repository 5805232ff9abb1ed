package mqtt_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
)

// hangBound is far above what the calls below take (milliseconds): a test
// that passes it found a call that blocks, not a slow machine.
const hangBound = 10 * time.Second

// within runs f and fails the test if it does not return within
// hangBound.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); f() }()
	select {
	case <-done:
		t.Logf("%s returned in %v", what, time.Since(start))
	case <-time.After(hangBound):
		t.Fatalf("%s did not return within %v: a call blocks on a stalled peer", what, hangBound)
	}
}

// flood publishes 2,000 QoS 1 messages of 4 KiB on each session from one
// goroutine, as an engine shard does, expecting each call to succeed or
// to refuse with a full send buffer.
func flood(t *testing.T, ss []*mqtt.Session) {
	t.Helper()
	payload := make([]byte, 4096)
	var ok, full int
	var other error
	within(t, "40,000 publishes", func() {
		for i := range 2000 {
			for _, s := range ss {
				err := s.Publish(uint16(i+1), "stall/x", payload, 1, false)
				switch {
				case err == nil:
					ok++
				case errors.As(err, new(mqtt.SendBufferFullError)):
					full++
				case other == nil:
					other = err
				}
			}
		}
	})
	if other != nil {
		t.Errorf("Publish = %v, want nil or a SendBufferFullError", other)
	}
	if full == 0 {
		t.Errorf("%d publishes of 4 KiB to a stalled peer all succeeded, want full send buffers", ok)
	}
	t.Logf("%d publishes taken, %d refused with a full send buffer", ok, full)
	within(t, "Ping on every session", func() {
		for _, s := range ss {
			s.Ping()
		}
	})
	within(t, "Close of every session", func() {
		for _, s := range ss {
			s.Close()
		}
	})
}

// sessions connects n devices to addr.
func sessions(t *testing.T, addr string, n int) []*mqtt.Session {
	t.Helper()
	ss := make([]*mqtt.Session, n)
	for i := range ss {
		ss[i] = connect(t, mqtt.Options{Addr: addr}, &recorder{})
	}
	return ss
}

// TestStoppedBrokerNeverBlocks floods a Mosquitto stopped with SIGSTOP:
// nothing reads the sockets, and no call may wait for them.
func TestStoppedBrokerNeverBlocks(t *testing.T) {
	m := mqtttest.StartMosquitto(t)
	ss := sessions(t, m.Addr(), 20)
	b := dialShared(t, m.Addr(), 2)
	m.Pause()
	defer m.Resume()
	flood(t, ss)
	within(t, "Backend.Publish with full windows", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		for range 100 {
			if err := b.Publish(ctx, "cmd/x", make([]byte, 4096), 1); err != nil {
				return
			}
		}
	})
	within(t, "Backend.Close", func() { b.Close() })
}

// TestSilentPeerNeverBlocks floods sessions whose peer completed the
// handshake and then never reads again.
func TestSilentPeerNeverBlocks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			readPacket(c)                  // CONNECT
			c.Write([]byte{0x20, 2, 0, 0}) // CONNACK; never read again
		}
	})
	flood(t, sessions(t, ln.Addr().String(), 20))
}
