package lwm2m

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// pipeConn is one end of an in-memory datagram link, for tests inside a
// synctest bubble: its waits are on channels, so the fake clock runs.
type pipeConn struct {
	in, out chan []byte
	closed  chan struct{}
	once    sync.Once
}

func newPipe() (*pipeConn, *pipeConn) {
	a := &pipeConn{in: make(chan []byte, 16), out: make(chan []byte, 16), closed: make(chan struct{})}
	b := &pipeConn{in: a.out, out: a.in, closed: a.closed}
	return a, b
}

func (c *pipeConn) Read(b []byte) (int, error) {
	select {
	case d := <-c.in:
		return copy(b, d), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *pipeConn) Write(b []byte) (int, error) {
	select {
	case c.out <- append([]byte(nil), b...):
		return len(b), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *pipeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr                { return &net.UDPAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr               { return &net.UDPAddr{} }
func (c *pipeConn) SetDeadline(t time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { return nil }

// fakeServer answers the registration interface on the far end of a
// pipe: Register 2.01 at /rd/1, Update with what answer says, DELETE
// 2.02. It records when each request came, since its start.
type fakeServer struct {
	conn   *pipeConn
	start  time.Time
	answer func(m *coap.Message) coap.Code // for Updates
	// answers receives what the device sends that is not a request: its
	// answers to the test's requests and its notifications.
	answers chan *coap.Message
	mu      sync.Mutex
	log     []fakeRequest
}

type fakeRequest struct {
	what string // "register", "update", "deregister"
	at   time.Duration
}

func (f *fakeServer) run() {
	buf := make([]byte, 2048)
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			return
		}
		var m coap.Message
		if coap.Decode(buf[:n], &m) != nil {
			continue
		}
		if !m.Code.IsRequest() {
			if f.answers != nil {
				f.answers <- m.Clone()
			}
			continue
		}
		resp := coap.Message{Type: coap.Acknowledgement, MessageID: m.MessageID, Token: m.Token}
		what := "update"
		switch {
		case m.Path() == "/rd":
			what, resp.Code = "register", coap.Created
			resp.AddOption(coap.LocationPath, []byte("rd"))
			resp.AddOption(coap.LocationPath, []byte("1"))
		case m.Code == coap.DELETE:
			what, resp.Code = "deregister", coap.Deleted
		default:
			resp.Code = f.answer(&m)
		}
		f.mu.Lock()
		f.log = append(f.log, fakeRequest{what, time.Since(f.start)})
		f.mu.Unlock()
		b, _ := resp.MarshalBinary()
		f.conn.Write(b)
	}
}

func (f *fakeServer) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.log...)
}

// startFake starts a client against a fake server in the bubble.
func startFake(t testing.TB, o ClientOptions, answer func(*coap.Message) coap.Code) (*Client, *fakeServer) {
	t.Helper()
	dev, srv := newPipe()
	f := &fakeServer{conn: srv, start: time.Now(), answer: answer, answers: make(chan *coap.Message, 16)}
	go f.run()
	o.CoAP.Addr = "fake:5683"
	o.CoAP.Dial = func(context.Context, string, string) (net.Conn, error) { return dev, nil }
	o.Endpoint = "timing"
	o.Model = NewModel(Config{Start: time.Now()})
	c, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

// The registration is renewed at 90 % of the lifetime, counted from when
// each Register or Update was sent.
func TestRenewalTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := startFake(t, ClientOptions{Lifetime: 100 * time.Second}, func(*coap.Message) coap.Code { return coap.Changed })
		time.Sleep(275 * time.Second)
		synctest.Wait()
		want := []fakeRequest{{"register", 0}, {"update", 90 * time.Second}, {"update", 180 * time.Second}, {"update", 270 * time.Second}}
		if got := f.requests(); !equalRequests(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if got := f.requests(); got[len(got)-1].what != "deregister" {
			t.Errorf("last request %v, want the de-registration", got[len(got)-1])
		}
	})
}

// A failed Update is followed by a Register after RetryDelay; a 4.04
// Update by a Register at once.
func TestRenewalFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		code := coap.ServiceUnavailable
		c, f := startFake(t, ClientOptions{Lifetime: 100 * time.Second, RetryDelay: 7 * time.Second},
			func(*coap.Message) coap.Code {
				mu.Lock()
				defer mu.Unlock()
				return code
			})
		defer c.Close()
		time.Sleep(100 * time.Second)
		synctest.Wait()
		mu.Lock()
		code = coap.NotFound
		mu.Unlock()
		c.Update()
		synctest.Wait()
		// 90s: the Update fails (5.03); 97s, RetryDelay later: a
		// Register; 100s: an Update answered 4.04, and a Register at once.
		want := []fakeRequest{{"register", 0}, {"update", 90 * time.Second}, {"register", 97 * time.Second},
			{"update", 100 * time.Second}, {"register", 100 * time.Second}}
		if got := f.requests(); !equalRequests(got, want) {
			t.Errorf("requests %v, want %v", got, want)
		}
	})
}

func equalRequests(a, b []fakeRequest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ask sends the device a request from the fake server and returns its
// piggybacked answer.
func (f *fakeServer) ask(t *testing.T, m *coap.Message) *coap.Message {
	t.Helper()
	m.Type = coap.Confirmable
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	f.conn.Write(b)
	a := <-f.answers
	if a.Type != coap.Acknowledgement || a.MessageID != m.MessageID {
		t.Fatalf("%v answered with %v", m, a)
	}
	return a
}

// Notifications follow pmax exactly when the value stays, and pmin when
// it changes at every step (the temperature, every 10 s); each
// confirmable one is acknowledged.
func TestNotificationTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := startFake(t, ClientOptions{Lifetime: time.Hour}, func(*coap.Message) coap.Code { return coap.Changed })
		defer c.Close()
		start := time.Now()
		for i, o := range []struct {
			path, attr string
			token      byte
		}{{"/3/0/0", "pmax=10", 0xa}, {"/3303/0/5700", "pmin=15", 0xb}} {
			wa := &coap.Message{Code: coap.PUT, MessageID: uint16(2 * i)}
			wa.SetPath(o.path)
			wa.AddQuery(o.attr)
			if a := f.ask(t, wa); a.Code != coap.Changed {
				t.Fatalf("write-attributes %s: %v", o.attr, a.Code)
			}
			obs := &coap.Message{Code: coap.GET, MessageID: uint16(2*i + 1), Token: []byte{o.token}}
			obs.SetPath(o.path)
			obs.SetUint(coap.Observe, 0)
			if a := f.ask(t, obs); a.Code != coap.Content {
				t.Fatalf("observe %s: %v", o.path, a)
			}
		}
		at := map[byte][]time.Duration{}
		for len(at[0xa]) < 3 || len(at[0xb]) < 3 {
			n := <-f.answers
			at[n.Token[0]] = append(at[n.Token[0]], time.Since(start))
			ack := coap.Message{Type: coap.Acknowledgement, MessageID: n.MessageID}
			b, _ := ack.MarshalBinary()
			f.conn.Write(b)
		}
		if want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second}; !slices.Equal(at[0xa][:3], want) {
			t.Errorf("pmax=10: notifications at %v, want %v", at[0xa], want)
		}
		if want := []time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}; !slices.Equal(at[0xb][:3], want) {
			t.Errorf("pmin=15: notifications at %v, want %v", at[0xb], want)
		}
	})
}

// A sleeping device sends no notification and hears nothing; Wake sends
// an Update, and the notification held back follows.
func TestSleepHoldsNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := startFake(t, ClientOptions{Lifetime: time.Hour, Queue: true}, func(*coap.Message) coap.Code { return coap.Changed })
		defer c.Close()
		start := time.Now()
		wa := &coap.Message{Code: coap.PUT, MessageID: 1}
		wa.SetPath("/3/0/0")
		wa.AddQuery("pmax=10")
		f.ask(t, wa)
		obs := &coap.Message{Code: coap.GET, MessageID: 2, Token: []byte{1}}
		obs.SetPath("/3/0/0")
		obs.SetUint(coap.Observe, 0)
		f.ask(t, obs)
		time.Sleep(5 * time.Second)
		c.Sleep()
		ping := coap.Message{Type: coap.Confirmable, Code: coap.Empty, MessageID: 3}
		b, _ := ping.MarshalBinary()
		f.conn.Write(b)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		select {
		case m := <-f.answers:
			t.Fatalf("the sleeping device sent %v", m)
		default:
		}
		if c.Missed() != 1 {
			t.Errorf("missed %d datagrams, want the ping", c.Missed())
		}
		c.Wake()
		n := <-f.answers
		if got := time.Since(start); n.Code != coap.Content || got > 26*time.Second {
			t.Errorf("after the wake-up at 25s: %v at %v, want the notification by 26s", n, got)
		}
		if r := f.requests(); r[len(r)-1] != (fakeRequest{"update", 25 * time.Second}) {
			t.Errorf("requests %v, want an Update at 25s", r)
		}
	})
}
