package tcptest

import (
	"io"
	"net"
	"testing"
)

func TestServeHandsEachConnectionAndStopsAtCleanup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{}, 3)
	t.Run("serve", func(t *testing.T) {
		Serve(t, ln, func(c net.Conn) {
			seen <- struct{}{}
			go func() { io.Copy(c, c); c.Close() }()
		})
		for range 3 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
				t.Fatalf("echo = %q, %v", b, err)
			}
			c.Close()
		}
	})
	if len(seen) != 3 {
		t.Fatalf("handle saw %d connections, want 3", len(seen))
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after the test's cleanup, want it closed")
	}
}
