package netem

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

func readAt(t *testing.T, c net.Conn, n int) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	buf := make([]byte, n)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return string(buf[:k]), time.Since(start)
}

// Uplink: Write returns at once, the peer reads the data one delay later.
func TestStreamUplinkDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		c := s.Conn(a, Link{Up: Profile{Delay: 50 * time.Millisecond}}, 1, 0)
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte("hello")); err != nil || time.Since(start) != 0 {
			t.Fatalf("Write took %v err %v, want at once", time.Since(start), err)
		}
		if got, at := readAt(t, b, 16); got != "hello" || at != 50*time.Millisecond {
			t.Errorf("peer read %q after %v, want hello after 50ms", got, at)
		}
	})
}

// Downlink: each chunk is stamped when it arrives, so a chunk sent 10 ms
// later is delivered 10 ms later, while the reader already waits.
func TestStreamDownlinkOwnArrivalStamps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		c := s.Conn(a, Link{Down: Profile{Delay: 50 * time.Millisecond}}, 1, 0)
		defer c.Close()
		go func() {
			b.Write([]byte("one"))
			time.Sleep(10 * time.Millisecond)
			b.Write([]byte("two"))
		}()
		start := time.Now()
		for _, want := range []struct {
			s  string
			at time.Duration
		}{{"one", 50 * time.Millisecond}, {"two", 60 * time.Millisecond}} {
			got, _ := readAt(t, c, 16)
			if at := time.Since(start); got != want.s || at != want.at {
				t.Errorf("Read = %q at %v, want %q at %v", got, at, want.s, want.at)
			}
		}
	})
}

// Time a due chunk spent waiting for Read counts against its delay, and
// the caller's read deadline is honoured while a chunk is held.
func TestStreamReadDeadlineAndElapsedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		c := s.Conn(a, Link{Down: Profile{Delay: 50 * time.Millisecond}}, 1, 0)
		defer c.Close()
		go func() {
			b.Write([]byte("one"))
			time.Sleep(10 * time.Millisecond)
			b.Write([]byte("two"))
		}()
		start := time.Now()
		c.SetReadDeadline(start.Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 8)); !isTimeout(err) || time.Since(start) != 20*time.Millisecond {
			t.Fatalf("Read with a 20ms deadline = %v after %v, want a timeout after 20ms", err, time.Since(start))
		}
		c.SetReadDeadline(time.Time{})
		if got, _ := readAt(t, c, 3); got != "one" || time.Since(start) != 50*time.Millisecond {
			t.Errorf("Read = %q at %v, want one at 50ms", got, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond) // the application is busy
		if got, at := readAt(t, c, 3); got != "two" || at != 0 {
			t.Errorf("Read after a busy 100ms = %q after %v, want two at once", got, at)
		}
	})
}

// rate 10kbit serialises 48-byte writes (100 bytes with IPv4/TCP headers)
// 80 ms apart.
func TestStreamRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		c := s.Conn(a, Link{Up: Profile{Rate: 10_000}}, 1, 0)
		defer c.Close()
		start := time.Now()
		for range 3 {
			c.Write(make([]byte, 48))
		}
		for i := 1; i <= 3; i++ {
			if _, err := io.ReadFull(b, make([]byte, 48)); err != nil {
				t.Fatal(err)
			}
			if at, want := time.Since(start), time.Duration(i)*80*time.Millisecond; at != want {
				t.Errorf("chunk %d arrived after %v, want %v", i, at, want)
			}
		}
	})
}

// Close returns at once; the queued data and then EOF reach the peer one
// delay later.
func TestStreamCloseFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		c := s.Conn(a, Link{Up: Profile{Delay: 50 * time.Millisecond}}, 1, 0)
		start := time.Now()
		c.Write([]byte("bye"))
		if err := c.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close = %v, want net.ErrClosed", err)
		}
		data, err := io.ReadAll(b)
		if string(data) != "bye" || err != nil || time.Since(start) != 50*time.Millisecond {
			t.Errorf("peer read %q, %v, done after %v; want bye, EOF after 50ms", data, err, time.Since(start))
		}
	})
}

// Limit 2: the third Write blocks until its write deadline, or until the
// shard has sent the head chunk.
func TestStreamWriteBlocksAtLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		go io.Copy(io.Discard, b)
		c := s.Conn(a, Link{Up: Profile{Delay: time.Second, Limit: 2}}, 1, 0)
		defer c.Close()
		start := time.Now()
		c.Write([]byte("1"))
		c.Write([]byte("2"))
		c.SetWriteDeadline(start.Add(100 * time.Millisecond))
		if n, err := c.Write([]byte("3")); n != 0 || !isTimeout(err) || time.Since(start) != 100*time.Millisecond {
			t.Errorf("Write over the limit = %d, %v after %v; want a timeout after 100ms", n, err, time.Since(start))
		}
		c.SetWriteDeadline(time.Time{})
		if _, err := c.Write([]byte("3")); err != nil || time.Since(start) != time.Second {
			t.Errorf("Write over the limit = %v after %v; want success after 1s", err, time.Since(start))
		}
		if st, _ := StatsOf(c); st.Up.Sent != 2 || st.Up.Queued != 1 {
			t.Errorf("Stats.Up = %+v, want Sent 2 Queued 1", st.Up)
		}
	})
}

// Dialer waits one shaped round trip for the handshake; a cancelled dial
// fails and closes the conn.
func TestDialerHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		var peer net.Conn
		next := func(ctx context.Context, network, addr string) (net.Conn, error) {
			a, b := net.Pipe()
			peer = b
			return a, nil
		}
		l := Link{Up: Profile{Delay: 20 * time.Millisecond}, Down: Profile{Delay: 30 * time.Millisecond}}
		dial := s.Dialer(next, l, 1, 3)
		start := time.Now()
		c, err := dial(context.Background(), "tcp", "x:1")
		if err != nil || time.Since(start) != 50*time.Millisecond {
			t.Fatalf("dial = %v after %v, want success after 50ms", err, time.Since(start))
		}
		c.Close()
		peer.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := dial(ctx, "tcp", "x:1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial with a 10ms context = %v, want context.DeadlineExceeded", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write on a closed conn = %v", err)
		}
		bad := s.Dialer(next, Link{Up: Profile{Delay: -1}}, 1, 3)
		if _, err := bad(context.Background(), "tcp", "x:1"); !errors.Is(err, ErrInvalid) {
			t.Errorf("dial with an invalid link = %v, want ErrInvalid", err)
		}
	})
}

// Once Run returns, writes fail with ErrStopped and pending closes happen.
func TestShaperStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(2)
		stop := runShaper(t, s)
		a, b := net.Pipe()
		c := s.Conn(a, Link{Up: Profile{Delay: time.Hour}}, 1, 0)
		c.Write([]byte("never"))
		c.Close()
		stop()
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("peer Read after stop = %v, want EOF (conn closed)", err)
		}
		c2 := s.Conn(b, Link{Up: Profile{Delay: time.Hour}}, 1, 1)
		if _, err := c2.Write([]byte("x")); !errors.Is(err, ErrStopped) {
			t.Errorf("Write after stop = %v, want ErrStopped", err)
		}
		if err := s.Run(context.Background()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v, want ErrRunning", err)
		}
	})
}

// Datagrams: rate spaces 100-byte packets 80 ms apart at the receiver,
// the downlink delays each by its own arrival, loss counts drops.
func TestPacketConnTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		var mn memNet
		dev, srv := mn.listen("dev"), mn.listen("srv")
		l := Link{Up: Profile{Rate: 10_000}, Down: Profile{Delay: 30 * time.Millisecond}}
		c := s.PacketConn(dev, l, 1, 0)
		defer c.Close()
		start := time.Now()
		for range 3 {
			c.WriteTo(make([]byte, 72), memAddr("srv"))
		}
		time.Sleep(time.Second)
		got := srv.arrivals()
		for i, at := range got {
			if want := time.Duration(i+1) * 80 * time.Millisecond; at.Sub(start) != want {
				t.Errorf("datagram %d arrived after %v, want %v", i, at.Sub(start), want)
			}
		}
		if len(got) != 3 {
			t.Fatalf("%d datagrams arrived, want 3", len(got))
		}

		start = time.Now()
		srv.WriteTo([]byte("a"), memAddr("dev"))
		buf := make([]byte, 8)
		n, from, err := c.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "a" || from.String() != "srv" || time.Since(start) != 30*time.Millisecond {
			t.Errorf("ReadFrom = %q from %v, %v after %v; want a from srv after 30ms", buf[:n], from, err, time.Since(start))
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		if _, _, err := c.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("ReadFrom past the deadline = %v, want os.ErrDeadlineExceeded", err)
		}
	})
}

func TestPacketConnLossAndStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		var mn memNet
		dev, srv := mn.listen("dev"), mn.listen("srv")
		c := s.PacketConn(dev, Link{Up: Profile{Delay: time.Millisecond, Loss: Loss{P: 100}}}, 1, 0)
		for range 10 {
			c.WriteTo([]byte("x"), memAddr("srv"))
		}
		time.Sleep(10 * time.Millisecond)
		st, ok := StatsOf(c)
		if !ok || st.Up.Dropped != 10 || st.Up.Sent != 0 || len(srv.arrivals()) != 0 {
			t.Errorf("loss 100%%: Stats %+v ok %v, %d arrived; want 10 dropped, none sent", st.Up, ok, len(srv.arrivals()))
		}
		if agg := s.Stats(); agg.Up.Dropped != 10 {
			t.Errorf("Shaper.Stats().Up.Dropped = %d, want 10", agg.Up.Dropped)
		}
		c.Close()
		if _, _, err := c.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Close = %v, want net.ErrClosed", err)
		}
	})
}

// A connection's link draws come from (seed, device, connection number):
// DialerFor with the same number repeats them, another number differs,
// and Dialer numbers its conns itself.
func TestDialerForSeedsPerConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		next := func(ctx context.Context, network, addr string) (net.Conn, error) {
			a, b := net.Pipe()
			go func() { <-ctx.Done(); b.Close() }()
			return a, nil
		}
		l := Link{Up: Profile{Delay: 100 * time.Millisecond, Jitter: 90 * time.Millisecond}, Down: Profile{Delay: 10 * time.Millisecond}}
		took := func(d func(context.Context, string, string) (net.Conn, error)) time.Duration {
			start := time.Now()
			c, err := d(t.Context(), "tcp", "x:1")
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			return time.Since(start)
		}
		a0, b0, a1 := took(s.DialerFor(next, l, 1, 3, 0)), took(s.DialerFor(next, l, 1, 3, 0)), took(s.DialerFor(next, l, 1, 3, 1))
		if a0 != b0 || a0 == a1 {
			t.Errorf("handshakes took %v and %v for connection 0, %v for 1: want 0 repeated, 1 different", a0, b0, a1)
		}
		counting := s.Dialer(next, l, 1, 3)
		if c0, c1 := took(counting), took(counting); c0 != a0 || c1 != a1 {
			t.Errorf("Dialer's first two handshakes took %v, %v; want DialerFor's %v, %v", c0, c1, a0, a1)
		}
	})
}

// tryWriter is the capability mqtt sessions look for.
type tryWriter interface {
	TryWrite(b []byte) (int, error)
}

// TryWrite queues as Write does, but at the limit takes nothing at once
// instead of blocking; once the shard has sent, it takes again.
func TestStreamTryWriteAtLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		defer runShaper(t, s)()
		a, b := net.Pipe()
		defer b.Close()
		got := make(chan string, 1)
		go func() { data, _ := io.ReadAll(b); got <- string(data) }()
		c := s.Conn(a, Link{Up: Profile{Delay: time.Second, Limit: 2}}, 1, 0)
		tw, ok := c.(tryWriter)
		if !ok {
			t.Fatalf("%T has no TryWrite", c)
		}
		start := time.Now()
		for _, p := range []string{"1", "2"} {
			if n, err := tw.TryWrite([]byte(p)); n != 1 || err != nil {
				t.Fatalf("TryWrite(%s) = %d, %v; want 1, nil", p, n, err)
			}
		}
		if n, err := tw.TryWrite([]byte("3")); n != 0 || err != nil || time.Since(start) != 0 {
			t.Fatalf("TryWrite over the limit = %d, %v after %v; want 0, nil at once", n, err, time.Since(start))
		}
		time.Sleep(time.Second) // the shard sends both chunks
		synctest.Wait()
		if n, err := tw.TryWrite([]byte("3")); n != 1 || err != nil {
			t.Fatalf("TryWrite after the queue drained = %d, %v; want 1, nil", n, err)
		}
		c.Close()
		if data := <-got; data != "123" {
			t.Errorf("peer read %q, want 123", data)
		}
		if n, err := tw.TryWrite([]byte("4")); n != 0 || !errors.Is(err, net.ErrClosed) {
			t.Errorf("TryWrite after Close = %d, %v; want net.ErrClosed", n, err)
		}
	})
}

// On an unshaped uplink, TryWrite writes to a TCP socket without blocking
// and takes nothing from any other conn.
func TestStreamTryWriteUnshaped(t *testing.T) {
	s := NewShaper(1)
	defer runShaper(t, s)()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := s.Conn(tcp, Link{Down: Profile{Delay: time.Millisecond}}, 1, 0)
	defer c.Close()
	if n, err := c.(tryWriter).TryWrite([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("TryWrite over TCP = %d, %v; want 5, nil", n, err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "hello" {
		t.Errorf("peer read %q, %v; want hello", buf, err)
	}
	if st, _ := StatsOf(c); st.Up.Sent != 1 {
		t.Errorf("Stats.Up.Sent = %d, want 1", st.Up.Sent)
	}
	// Fill the socket: TryWrite returns short, never blocks.
	big := make([]byte, 1<<20)
	total := 0
	for range 64 {
		n, err := c.(tryWriter).TryWrite(big)
		if err != nil {
			t.Fatalf("TryWrite = %v", err)
		}
		if total += n; n < len(big) {
			break
		}
	}
	if total >= 64<<20 {
		t.Errorf("TryWrite took %d bytes nobody reads, want a short write", total)
	}
	a, b := net.Pipe()
	defer b.Close()
	pc := s.Conn(a, Link{Down: Profile{Delay: time.Millisecond}}, 1, 1)
	defer pc.Close()
	if n, err := pc.(tryWriter).TryWrite([]byte("x")); n != 0 || err != nil {
		t.Errorf("TryWrite over a net.Pipe = %d, %v; want 0, nil (use Write)", n, err)
	}
}
