package broker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// syncBuffer is a log sink safe for the broker's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, level slog.Level) (*broker.Broker, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	b, err := broker.Start("127.0.0.1:0", slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})))
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, logs
}

func TestStartConnectClose(t *testing.T) {
	tests := []struct {
		level   slog.Level
		logsAny bool
	}{
		{slog.LevelInfo, false},
		{slog.LevelDebug, true},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			b, logs := start(t, tt.level)
			if _, port, _ := net.SplitHostPort(b.Addr()); port == "0" || port == "" {
				t.Fatalf("Addr() = %q, want the bound port", b.Addr())
			}
			s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: b.Addr(), ClientID: "c", CleanSession: true}, nil)
			if err != nil {
				t.Fatalf("Connect() = %v", err)
			}
			s.Close()
			if got := logs.String() != ""; got != tt.logsAny {
				t.Errorf("logger at %v: wrote %q, want output %v", tt.level, logs.String(), tt.logsAny)
			}
			if err := b.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
				c.Close()
				t.Error("broker still accepts after Close")
			}
		})
	}
}

func TestStartOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if b, err := broker.Start(ln.Addr().String(), nil); err == nil {
		b.Close()
		t.Fatalf("Start(%s) on a busy address succeeded", ln.Addr())
	}
}

// subscribeAndStall subscribes a raw client to topic and then never reads
// again, so the broker's queue for it fills.
func subscribeAndStall(t *testing.T, addr, topic string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0, 0, 1, 's'}
	sub := append([]byte{0x82, byte(5 + len(topic)), 0, 1, 0, byte(len(topic))}, topic...)
	sub = append(sub, 0)
	if _, err := c.Write(append(connect, sub...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4+5) // CONNACK, SUBACK
	if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 || ack[4] != 0x90 {
		t.Fatalf("handshake: % x, %v", ack, err)
	}
	return c
}

func TestDroppedToSlowSubscriber(t *testing.T) {
	b, logs := start(t, slog.LevelInfo)
	subscribeAndStall(t, b.Addr(), "flood")
	s, err := mqtt.Connect(context.Background(), mqtt.Options{Addr: b.Addr(), ClientID: "p", CleanSession: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	payload := make([]byte, 4096)
	// Socket buffers hold a few MiB and the queue WritesPending messages;
	// 40k x 4 KiB is far more, and the loop stops at the first drop.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < 40_000 && b.Dropped() == 0 && time.Now().Before(deadline); i++ {
		err := s.Publish(0, "flood", payload, 0, false)
		if errors.As(err, new(mqtt.SendBufferFullError)) {
			// Publish never blocks: back off while the broker catches up.
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("Publish(%d) = %v", i, err)
		}
	}
	// Publishes are processed asynchronously by the broker.
	for end := time.Now().Add(5 * time.Second); b.Dropped() == 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Dropped() == 0 {
		t.Fatal("Dropped() = 0 after flooding a stalled subscriber")
	}
	// The count goes up before the warning is written.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(logs.String(), "dropped messages to a slow subscriber") {
			return
		}
	}
	t.Errorf("no drop warning in the log: %q", logs.String())
}
