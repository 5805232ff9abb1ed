package mqtt_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
)

// arrival is one delivery's arrival time and when deliver ran.
type arrival struct {
	payload     string
	arrived, at time.Time
}

// stampInbox records arrivals; the first delivery blocks until release is
// closed, so what follows waits in the backend's socket.
type stampInbox struct {
	mu      sync.Mutex
	got     []arrival
	release chan struct{}
}

func (s *stampInbox) deliver(_ string, payload []byte, arrived time.Time) {
	s.mu.Lock()
	s.got = append(s.got, arrival{string(payload), arrived, time.Now()})
	first := len(s.got) == 1
	s.mu.Unlock()
	if first {
		<-s.release
	}
}

func (s *stampInbox) all() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrival(nil), s.got...)
}

// wrapped hides the *net.TCPConn, as a shaping dialer's conn does.
type wrapped struct{ net.Conn }

// TestBackendArrivalTimes holds the backend's reader in deliver while 50
// messages reach its socket. With kernel receive timestamps they arrived
// before the reader was let go; without them (a conn that is not a
// *net.TCPConn) arrival is when the read returned, after it. A scripted
// broker writes them, and waits until the backend's kernel has them.
//
// The kernel leaves a few reads on loopback without a timestamp (seen: 1
// in 10,000 in a steady stream, more right after a connection opens),
// and those fall back to the read's time, the safe side: so a burst that
// shows the kernel's times is looked for in up to five tries.
func TestBackendArrivalTimes(t *testing.T) {
	tests := []struct {
		name   string
		dial   func(ctx context.Context, network, addr string) (net.Conn, error)
		kernel bool
	}{
		{"tcp", nil, runtime.GOOS == "linux"},
		{"other conn", func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			return wrapped{c}, err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for try := 1; ; try++ {
				before := burstArrivesBeforeRelease(t, tt.dial)
				if before == tt.kernel {
					return
				}
				if !tt.kernel || try == 5 {
					t.Fatalf("kernel timestamps %v, but the burst's arrival before the reader's release is %v (try %d)", tt.kernel, before, try)
				}
			}
		})
	}
}

// burstArrivesBeforeRelease runs the burst once and reports whether its
// last message's arrival time precedes the reader's release.
func burstArrivesBeforeRelease(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) bool {
	t.Helper()
	const n = 50
	in := &stampInbox{release: make(chan struct{})}
	blocked, written := make(chan struct{}), make(chan error, 1)
	addr := fakeBroker(t, func(c net.Conn) {
		readPacket(c) // CONNECT
		c.Write([]byte{0x20, 2, 0, 0})
		sub := readPacket(c)
		c.Write([]byte{0x90, 3, sub[2], sub[3], 0})
		c.Write(appendPublish(nil, "s", "m0"))
		<-blocked
		var burst []byte
		for i := 1; i <= n; i++ {
			burst = appendPublish(burst, "s", fmt.Sprintf("m%d", i))
		}
		_, err := c.Write(burst)
		// The write returns once the bytes are queued; the
		// receiving kernel stamps them when its TCP takes them,
		// which its acknowledgement shows.
		for deadline := time.Now().Add(5 * time.Second); err == nil && !peerHasAll(c) && time.Now().Before(deadline); {
			runtime.Gosched()
		}
		written <- err
		readPacket(c) // until the client leaves
	})
	ctx := context.Background()
	b, err := mqtt.DialBackend(ctx, mqtt.BackendOptions{Options: mqtt.Options{Addr: addr, Dial: dial}}, quietLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Subscribe(ctx, []mqtt.Subscription{{Topic: "s"}}, in.deliver); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return len(in.all()) == 1 }, "first message not delivered")
	close(blocked)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	released := time.Now()
	close(in.release)
	eventually(t, 5*time.Second, func() bool { return len(in.all()) == n+1 }, "backend got %d of %d", len(in.all()), n+1)
	got := in.all()
	for i, a := range got {
		if a.arrived.IsZero() || a.arrived.After(a.at) {
			t.Errorf("%s arrived %v, delivered %v: want a time not after delivery", a.payload, a.arrived, a.at)
		}
		if i > 0 && a.arrived.Before(got[i-1].arrived) {
			t.Errorf("%s arrived %v, before the previous message's %v", a.payload, a.arrived, got[i-1].arrived)
		}
	}
	return got[len(got)-1].arrived.Before(released)
}

// appendPublish appends a QoS 0 PUBLISH of a short topic and payload.
func appendPublish(b []byte, topic, payload string) []byte {
	b = append(b, 0x30, byte(2+len(topic)+len(payload)), 0, byte(len(topic)))
	return append(append(b, topic...), payload...)
}
