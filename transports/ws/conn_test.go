package ws_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/m2msim/m2msim/internal/tcptest"
	"github.com/m2msim/m2msim/transports/ws"
)

func dial(t *testing.T, url string, o ws.Options) *ws.Conn {
	t.Helper()
	c, err := ws.Dial(t.Context(), nil, url, o)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readN reads exactly n bytes, p bytes at most per Read, within 5s.
func readN(t *testing.T, c *ws.Conn, n, p int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out := make([]byte, 0, n)
	buf := make([]byte, p)
	for len(out) < n {
		k, err := c.Read(buf[:min(p, n-len(out))])
		out = append(out, buf[:k]...)
		if err != nil {
			t.Fatalf("Read after %d of %d bytes: %v", len(out), n, err)
		}
	}
	return out
}

// The stream runs across message boundaries both ways: one message
// holding three packets, one packet split over three messages (one of
// them empty, one fragmented into frames), read with small buffers.
func TestReadSpansMessages(t *testing.T) {
	packets := [][]byte{{0x40, 2, 0, 1}, {0x40, 2, 0, 2}, {0xd0, 0}}
	big := bytes.Repeat([]byte("0123456789"), 100)
	url := server(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.BinaryMessage, bytes.Join(packets, nil))
		c.WriteMessage(websocket.BinaryMessage, big[:10])
		c.WriteMessage(websocket.BinaryMessage, nil)
		w, _ := c.NextWriter(websocket.BinaryMessage)
		for i := 10; i < len(big); i += 100 {
			w.Write(big[i:min(i+100, len(big))])
		}
		w.Close()
		c.ReadMessage() // until the client goes
	})
	c := dial(t, url, ws.Options{})
	if got, want := readN(t, c, 10, 3), bytes.Join(packets, nil); !bytes.Equal(got, want) {
		t.Errorf("three packets in one message read as %x, want %x", got, want)
	}
	if got := readN(t, c, len(big), 7); !bytes.Equal(got, big) {
		t.Errorf("one packet over three messages read as %q..., want %q...", got[:20], big[:20])
	}
}

// Each Write is one binary message, whatever its size.
func TestWritesAreBinaryMessages(t *testing.T) {
	type msg struct {
		typ  int
		data []byte
	}
	got := make(chan msg, 4)
	url := server(t, func(c *websocket.Conn) {
		for {
			typ, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- msg{typ, b}
		}
	})
	c := dial(t, url, ws.Options{})
	big := bytes.Repeat([]byte{7}, 10000) // more than one pooled write buffer
	for _, b := range [][]byte{{0x10, 1, 2}, big} {
		if n, err := c.Write(b); n != len(b) || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", len(b), n, err)
		}
		select {
		case m := <-got:
			if m.typ != websocket.BinaryMessage || !bytes.Equal(m.data, b) {
				t.Errorf("server got message type %d of %d bytes, want binary of %d", m.typ, len(m.data), len(b))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message within 5s")
		}
	}
}

func TestTextMessageIsAnError(t *testing.T) {
	url := server(t, func(c *websocket.Conn) {
		c.WriteMessage(websocket.TextMessage, []byte("hello"))
		c.ReadMessage()
	})
	c := dial(t, url, ws.Options{})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, ws.ErrTextMessage) {
		t.Errorf("Read of a text message = %v, want ErrTextMessage", err)
	}
}

// A read deadline passes through as os.ErrDeadlineExceeded, and the
// failed stream keeps failing (gorilla would panic if asked again and
// again).
func TestReadDeadline(t *testing.T) {
	url := server(t, func(c *websocket.Conn) { c.ReadMessage() })
	c := dial(t, url, ws.Options{})
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := c.Read(make([]byte, 8))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Read returned after %v, want about 50ms", el)
	}
	for range 2000 {
		if _, again := c.Read(make([]byte, 8)); !errors.Is(again, os.ErrDeadlineExceeded) {
			t.Fatalf("Read after a failed read = %v, want the same error", again)
		}
	}
}

// A write to a peer that reads nothing fails by its deadline.
func TestWriteDeadline(t *testing.T) {
	block := make(chan struct{})
	url := server(t, func(*websocket.Conn) { <-block })
	defer close(block)
	c := dial(t, url, ws.Options{})
	c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	chunk := make([]byte, 1<<20)
	var err error
	for i := 0; i < 256 && err == nil; i++ { // far more than the socket buffers hold
		_, err = c.Write(chunk)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write to a stalled peer = %v, want os.ErrDeadlineExceeded", err)
	}
	start := time.Now()
	c.Close() // the stream is broken: no close frame to wait for
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("Close after a failed write took %v", el)
	}
}

// Close sends a normal-closure frame the server reads as such, and a
// peer's close frame ends reading with a CloseError that is io.EOF.
func TestCloseFrames(t *testing.T) {
	codes := make(chan int, 1)
	url := server(t, func(c *websocket.Conn) {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			codes <- ce.Code
		}
		close(codes)
	})
	c := dial(t, url, ws.Options{})
	if err := c.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	select {
	case code := <-codes:
		if code != websocket.CloseNormalClosure {
			t.Errorf("server saw close code %d, want 1000", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server saw no close frame within 5s")
	}

	url = server(t, func(c *websocket.Conn) {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
		c.ReadMessage()
	})
	c = dial(t, url, ws.Options{})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 8))
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "bye" || !errors.Is(err, io.EOF) {
		t.Errorf("Read after the peer's close = %v, want CloseError{1001 bye} that is io.EOF", err)
	}
}

// Close returns at once when the peer's socket takes nothing; the close
// frame's goroutine gives up after its timeout and closes the socket,
// which ends a Write blocked on it.
func TestCloseToAStalledPeer(t *testing.T) {
	block := make(chan struct{})
	url := server(t, func(*websocket.Conn) { <-block })
	defer close(block)
	c := dial(t, url, ws.Options{CloseTimeout: 200 * time.Millisecond})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		chunk := make([]byte, 1<<20)
		for range 256 {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the writer fill the socket buffers
	start := time.Now()
	c.Close()
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Errorf("Close to a stalled peer took %v, want it to return at once", el)
	}
	select {
	case <-done:
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("a blocked Write ended %v after Close, want about the 200ms close timeout", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked Write did not end after Close")
	}
}

// Close wakes a Read blocked on a silent peer at once.
func TestCloseWakesRead(t *testing.T) {
	block := make(chan struct{})
	url := server(t, func(*websocket.Conn) { <-block })
	defer close(block)
	c := dial(t, url, ws.Options{})
	errs := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-errs:
		if err == nil {
			t.Error("Read after Close = nil error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked 2s after Close")
	}
}

// Dial opens its TCP connection through the dial.Func it is given, and
// reports refusals as typed errors.
func TestDial(t *testing.T) {
	url := server(t, func(c *websocket.Conn) { c.ReadMessage() })
	var dials atomic.Int32
	d := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	c, err := ws.Over(d, ws.Options{})(t.Context(), "tcp", url)
	if err != nil {
		t.Fatalf("Over(d)(%s) = %v", url, err)
	}
	c.Close()
	if dials.Load() != 1 {
		t.Errorf("the dial.Func was called %d times, want 1", dials.Load())
	}
	_, err = ws.Dial(t.Context(), d, url, ws.Options{Subprotocol: "other"})
	var se *ws.SubprotocolError
	if !errors.As(err, &se) || se.Want != "other" || se.Got != "" {
		t.Errorf("Dial asking for another subprotocol = %v, want SubprotocolError{other, \"\"}", err)
	}
	for _, bad := range []string{"http://h/", "ws://", "mqtt://h:1", "ws:opaque", "%zz"} {
		if _, err := ws.Dial(t.Context(), d, bad, ws.Options{}); err == nil {
			t.Errorf("Dial(%q) = nil error, want a bad URL", bad)
		}
	}
}

func TestHandshakeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcptest.Serve(t, ln, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
		c.Close()
	})
	_, err = ws.Dial(t.Context(), nil, "ws://"+ln.Addr().String()+"/mqtt", ws.Options{})
	var he *ws.HandshakeError
	if !errors.As(err, &he) || he.Status != 404 {
		t.Errorf("Dial to a 404 = %v, want HandshakeError{404}", err)
	}
}

// A server that accepts and then says nothing does not hold Dial past
// its handshake timeout.
func TestHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = ws.Dial(t.Context(), nil, "ws://"+ln.Addr().String()+"/", ws.Options{HandshakeTimeout: 200 * time.Millisecond})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("Dial to a silent server = %v after %v, want an error after about 200ms", err, time.Since(start))
	}
}

// Reads, writes and deadline changes from many goroutines at once are
// safe (run with -race); the stream's end is then a timeout, for good.
func TestConcurrentMethods(t *testing.T) {
	url := server(t, func(c *websocket.Conn) {
		for {
			typ, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(typ, b)
		}
	})
	c := dial(t, url, ws.Options{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { c.Read(make([]byte, 64)) })
		wg.Go(func() { c.Write(make([]byte, 64)) })
		wg.Go(func() { c.SetDeadline(time.Now().Add(10 * time.Millisecond)) })
		wg.Go(func() { c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) })
		wg.Go(func() { c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond)) })
		wg.Go(func() { c.LocalAddr(); c.RemoteAddr() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("concurrent calls still blocked after 5s")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	for {
		_, err := c.Read(make([]byte, 64))
		if err == nil {
			continue
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Read after the deadline = %v, want a net.Error that is a timeout", err)
		}
		break
	}
}
