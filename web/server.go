package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/m2msim/m2msim/report"
)

// Source gives the live view its figures; web calls it from its own ticker
// only.
type Source interface {
	Live() report.Live
	Points(from int) []report.Point // complete intervals with index >= from, in order
}

// Options configures a Server. The zero value listens on a random loopback
// port, without a token, and ticks once a second.
type Options struct {
	// Addr is the address to listen on; "127.0.0.1:0" by default. A
	// non-loopback address (including ":8080" and "0.0.0.0:8080")
	// requires Token.
	Addr string
	// Token, when set, is required on every route but the static assets
	// (see the package documentation). It is never logged.
	Token string
	// Tick is how often the view pulls the Source; 1s by default.
	Tick time.Duration
	// Logger receives the server's events; none by default.
	Logger *slog.Logger
	// Labels are added to every metric /metrics serves: a shard of a
	// sharded run gives shard="I", so Prometheus can sum the shards.
	Labels map[string]string
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrTokenRequired is returned by New for a non-loopback address without a
// token.
var ErrTokenRequired = errors.New("a token is required to listen off loopback")

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("live view closed")

// Server is the live view. New makes one, Start serves it, Finish tells
// it the run is over and Close stops it.
type Server struct {
	src     Source
	opt     Options
	log     *slog.Logger
	token   *token // nil without a token
	hub     *hub
	handler http.Handler
	timing  timing

	// next is the index of the next Point to ask the Source for; only the
	// goroutine that ticks touches it.
	next int

	stop       chan struct{}  // closed by Close: the ticker and every viewer end
	finishc    chan struct{}  // Finish asks the ticker for a last tick
	tickerDone chan struct{}  // closed when the ticker has returned
	wg         sync.WaitGroup // the serving goroutine, the ticker, every viewer's two

	mu      sync.Mutex // guards started, closed and srv
	started bool
	closed  bool
	srv     *http.Server
}

// New validates o and returns a Server that is not yet listening.
func New(src Source, o Options) (*Server, error) {
	if src == nil {
		return nil, errors.New("live view: nil source")
	}
	o = o.withDefaults()
	if err := o.Check(); err != nil {
		return nil, err
	}
	s := &Server{
		src:        src,
		opt:        o,
		log:        o.Logger,
		hub:        newHub(maxHistory),
		timing:     defaultTiming,
		stop:       make(chan struct{}),
		finishc:    make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
	if o.Token != "" {
		s.token = newToken(o.Token)
	}
	s.handler = s.routes()
	return s, nil
}

// Check says what is wrong with o, if anything: an address that does not
// parse, or one off loopback without a token (ErrTokenRequired). A
// program checks its flags with it before it starts work.
func (o Options) Check() error {
	o = o.withDefaults()
	loop, err := isLoopback(o.Addr)
	if err != nil {
		return fmt.Errorf("live view address %q: %w", o.Addr, err)
	}
	if !loop && o.Token == "" {
		return fmt.Errorf("live view address %q is not loopback: %w (set one, or listen on 127.0.0.1)", o.Addr, ErrTokenRequired)
	}
	return nil
}

// isLoopback reports whether addr listens on loopback only: a loopback IP
// or "localhost". An empty host listens on every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// Start listens on Options.Addr and serves in a goroutine the Server owns
// until Close. It returns the page's URL, with ?token= when a token is
// set: hand it to the person watching, and do not log it.
func (s *Server) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", ErrClosed
	}
	if s.started {
		return "", errors.New("live view already started")
	}
	ln, err := net.Listen("tcp", s.opt.Addr)
	if err != nil {
		return "", fmt.Errorf("live view: %w", err)
	}
	s.started = true
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("live view stopped serving", "err", err)
		}
	}()
	go s.run()
	s.log.Info("live view listening", "addr", ln.Addr().String(), "token", s.token != nil)
	return pageURL(ln.Addr(), s.opt.Token), nil
}

// pageURL is the page's URL on addr; an unspecified address (every
// interface) is named localhost.
func pageURL(addr net.Addr, tok string) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}
	if tok != "" {
		u.RawQuery = url.Values{"token": {tok}}.Encode()
	}
	return u.String()
}

// run is the ticker: it ticks at once, then every Options.Tick, until
// Close, or until Finish's last tick.
func (s *Server) run() {
	defer s.wg.Done()
	defer close(s.tickerDone)
	t := time.NewTicker(s.opt.Tick)
	defer t.Stop()
	s.tick()
	if s.hub.finished.Load() { // Finish came before Start: that was the last tick
		return
	}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.tick()
		case <-s.finishc:
			s.hub.finished.Store(true)
			s.tick()
			return
		}
	}
}

// tick pulls the Source once and publishes what it gave.
func (s *Server) tick() {
	live := s.src.Live()
	from := s.next
	pts := s.src.Points(from)
	s.next += len(pts)
	s.hub.publish(&live, from, pts, s.log)
}

// Finish tells the view the run is over: /report serves reportHTML from
// now on, and every viewer is told (the page shows a link to it). When
// the server is running, Finish first has the ticker pull the Source one
// last time, so the page shows the run's final figures; after Finish
// returns, the Server never calls the Source again. Call it once the
// Source reports report.PhaseFinished and the report is written, and keep
// the server up for as long as people should be able to read it.
func (s *Server) Finish(reportHTML []byte) {
	b := bytes.Clone(reportHTML)
	s.hub.report.Store(&b)
	s.mu.Lock()
	running := s.started && !s.closed
	s.mu.Unlock()
	if running {
		select {
		case s.finishc <- struct{}{}:
			<-s.tickerDone // after its last tick
			return
		case <-s.tickerDone: // closed meanwhile, or finished before
		}
	}
	s.hub.finished.Store(true)
	s.hub.republish(s.log)
}

// Close stops the ticker, closes every viewer's connection (with a close
// frame) and shuts the HTTP server down. It returns once every goroutine
// the Server started has returned; if ctx ends first, it closes the
// remaining connections at once, waits for them, and returns ctx's error.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	srv := s.srv
	s.mu.Unlock()

	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if srv != nil {
			srv.Close()
		}
		s.hub.closeAll()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("closing live view: %w", err)
	}
	return nil
}

// enter counts a viewer's goroutine in the Server's wait group, unless
// the Server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}
