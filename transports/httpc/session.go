// Package httpc is an HTTP/1.1 device: a lean client that sends a
// device's requests one after another over one connection (kept alive,
// or one per request), dialled through the dial.Func it is given, and
// polls for commands on a second one.
//
// It writes requests itself and reads responses with the standard
// library's parser (http.ReadResponse); read buffers are pooled and held
// only during an exchange, so an idle keep-alive device costs its socket
// and a few hundred bytes. A net/http.Transport and Client per device
// cost several times more (BenchmarkIdleDevices).
//
// A 429 is retried after its Retry-After (at most MaxRetries times);
// other 4xx and 5xx responses end the exchange with a *StatusError.
// Every status is reported to Options.Status as it comes, for counting.
package httpc

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
)

// Defaults of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxRetries    = 3
	DefaultMaxRetryAfter = 60 * time.Second
	DefaultQueue         = 64
	// defaultRetryAfter is the wait after a 429 without Retry-After.
	defaultRetryAfter = time.Second
)

// Options configures a Session. Addr and Dial are required.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// Host is the Host header; Addr by default.
	Host string
	Dial dial.Func
	// TLS, when set, makes the device speak HTTPS.
	TLS *tls.Config
	// KeepAlive keeps one connection open; otherwise each request opens
	// its own and closes it after the response.
	KeepAlive bool
	// Timeout bounds each exchange: dial, handshake, request and
	// response.
	Timeout time.Duration
	// MaxRetries bounds the retries of one request after 429s; 0 is the
	// default, negative never retries.
	MaxRetries int
	// MaxRetryAfter caps the wait a Retry-After asks for.
	MaxRetryAfter time.Duration
	// Queue bounds the requests waiting their turn.
	Queue int
	// Status is told every response status as it arrives; may be nil.
	Status func(Status)
	// BadPoll is told of a command poll body it could not read; may be
	// nil.
	BadPoll func(error)
	// Lost is called once when an exchange fails for want of a
	// connection (refused, reset, timed out); the session is closed then.
	Lost func(error)
}

func (o *Options) withDefaults() {
	if o.Host == "" {
		o.Host = o.Addr
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.Status == nil {
		o.Status = func(Status) {}
	}
	if o.BadPoll == nil {
		o.BadPoll = func(error) {}
	}
	if o.Lost == nil {
		o.Lost = func(error) {}
	}
}

// ErrQueueFull is returned by Start when Options.Queue requests wait.
var ErrQueueFull = errors.New("httpc: request queue full")

// Session is one device's HTTP client. Its worker goroutine runs only
// while requests wait, its poller only while it polls.
type Session struct {
	o    Options
	ctx  context.Context // ended by Close
	stop context.CancelFunc

	mu      sync.Mutex // guards q, running, closed and lost
	q       []job
	running bool
	closed  bool
	lost    bool
	main    lane // used by the worker only
	wg      sync.WaitGroup
}

type job struct {
	r    Request
	done func(Response, error)
}

// Dial opens a device session; a keep-alive session connects now, so
// that a server that refuses shows at connect.
func Dial(ctx context.Context, o Options) (*Session, error) {
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	o.withDefaults()
	s := &Session{o: o}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.main.o = &s.o
	if o.KeepAlive {
		if err := s.main.dial(ctx); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

// Start queues r; done is called with its outcome from the session's
// worker, unless the session is closed first.
func (s *Session) Start(r Request, done func(Response, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case len(s.q) >= s.o.Queue:
		return ErrQueueFull
	}
	s.q = append(s.q, job{r: r, done: done})
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.work()
	}
	return nil
}

// work runs the queued requests in order and exits when none is left.
func (s *Session) work() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.closed {
			s.running = false
			s.mu.Unlock()
			return
		}
		j := s.q[0]
		s.q[0] = job{}
		s.q = s.q[1:]
		s.mu.Unlock()
		resp, err := s.do(&s.main, &j.r, 0)
		if s.ctx.Err() != nil {
			return // closed: no callbacks after Close
		}
		if err != nil && !isStatus(err) {
			s.loseWith(err, j.done)
			return
		}
		if j.done != nil {
			j.done(resp, err)
		}
	}
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// do runs one request through l, retrying after 429s; extra lengthens
// its deadline (a long poll's wait).
func (s *Session) do(l *lane, r *Request, extra time.Duration) (Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := l.roundTrip(s.ctx, r, extra)
		if err != nil {
			return resp, err
		}
		s.o.Status(resp.Status)
		if resp.Status < 400 {
			return resp, nil
		}
		serr := &StatusError{Code: resp.Status, RetryAfter: resp.RetryAfter}
		if resp.Status != http.StatusTooManyRequests || attempt >= s.o.MaxRetries {
			return resp, serr
		}
		if !s.sleep(s.retryWait(resp)) {
			return resp, serr
		}
	}
}

// retryWait is how long to wait before retrying after resp.
func (s *Session) retryWait(resp Response) time.Duration {
	if resp.RetryAfter > 0 {
		return min(resp.RetryAfter, s.o.MaxRetryAfter)
	}
	return min(defaultRetryAfter, s.o.MaxRetryAfter)
}

// sleep waits d, or until the session closes; it reports whether d
// passed.
func (s *Session) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// loseWith ends the session after a connection failure: done (the
// failed request's) and every queued request's callback get err, then
// Lost is called once.
func (s *Session) loseWith(err error, done func(Response, error)) {
	s.mu.Lock()
	first := !s.lost && !s.closed
	s.lost, s.closed, s.running = true, true, false
	q := s.q
	s.q = nil
	s.mu.Unlock()
	if !first {
		return
	}
	s.stop()
	if done != nil {
		done(Response{}, err)
	}
	for _, j := range q {
		if j.done != nil {
			j.done(Response{}, err)
		}
	}
	s.o.Lost(err)
}

// lose ends the session from the poller.
func (s *Session) lose(err error) { s.loseWith(err, nil) }

// Close ends the session: queued requests are dropped without their
// callbacks, the connections close, and Close waits for the worker and
// the poller.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.q = nil
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	s.main.close()
	return nil
}
