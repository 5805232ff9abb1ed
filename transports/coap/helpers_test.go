package coap

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeConn is one end of an in-memory datagram link: what the session
// writes goes to the test's fake server (out), what the server sends
// comes in (in). Its waits are on channels, so inside a synctest bubble
// they are durable and the fake clock runs.
type fakeConn struct {
	in     chan []byte
	errs   chan error // read errors to return
	out    chan sent
	closed chan struct{}
	once   sync.Once
	epoch  time.Time
}

// sent is a datagram the session wrote, with when.
type sent struct {
	b  []byte
	at time.Duration // since the conn was made
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte, 64), errs: make(chan error, 1), out: make(chan sent, 1024), closed: make(chan struct{}), epoch: time.Now()}
}

func (c *fakeConn) Read(b []byte) (int, error) {
	select {
	case d := <-c.in:
		return copy(b, d), nil
	case err := <-c.errs:
		return 0, err
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *fakeConn) Write(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	case c.out <- sent{append([]byte(nil), b...), time.Since(c.epoch)}:
		return len(b), nil
	}
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) LocalAddr() net.Addr                { return &net.UDPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr               { return &net.UDPAddr{} }
func (c *fakeConn) SetDeadline(t time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(t time.Time) error { return nil }

// dialFake opens a session over a fake conn; the session is closed at
// the end of the test.
func dialFake(t *testing.T, o Options) (*Session, *fakeConn) {
	t.Helper()
	c := newFakeConn()
	o.Addr = "fake:5683"
	o.Dial = func(context.Context, string, string) (net.Conn, error) { return c, nil }
	s, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// recv returns the next datagram the session sent, decoded, failing the
// test if none comes within d (of fake time, in a bubble).
func (c *fakeConn) recv(t *testing.T, d time.Duration) (Message, sent) {
	t.Helper()
	select {
	case x := <-c.out:
		var m Message
		if err := Decode(x.b, &m); err != nil {
			t.Fatalf("session sent %x: %v", x.b, err)
		}
		return m, x
	case <-time.After(d):
		t.Fatalf("the session sent nothing within %v", d)
	}
	panic("unreachable")
}

// quiet fails the test if the session sends anything within d.
func (c *fakeConn) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case x := <-c.out:
		t.Fatalf("the session sent %x at %v, want nothing", x.b, x.at)
	case <-time.After(d):
	}
}

// send delivers m to the session.
func (c *fakeConn) send(t *testing.T, m *Message) {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c.in <- b
}

// results collects done callbacks.
type results struct {
	mu  sync.Mutex
	got []Result
	ch  chan Result
}

func newResults() *results { return &results{ch: make(chan Result, 64)} }

// done is a Start callback; it keeps a copy of the response.
func (r *results) done(res Result) {
	if res.Response != nil {
		res.Response = res.Response.Clone()
	}
	r.ch <- res
}

func (r *results) next(t *testing.T, d time.Duration) Result {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(d):
		t.Fatalf("no exchange ended within %v", d)
	}
	panic("unreachable")
}

func (r *results) none(t *testing.T) {
	t.Helper()
	select {
	case res := <-r.ch:
		t.Fatalf("unexpected end of an exchange: %+v", res)
	default:
	}
}

func get(path string) *Message {
	m := &Message{Type: Confirmable, Code: GET}
	m.SetPath(path)
	return m
}
