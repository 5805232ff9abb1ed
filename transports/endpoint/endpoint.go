// Package endpoint is m2msim's own HTTP API server: the backend stand-in
// for HTTP and raw WebSocket devices, as transports/coap/server is for
// CoAP ones. It
//
//   - receives what devices POST or PUT (telemetry at /telemetry/{device}
//     by default, command replies at /replies/{device}; any path works)
//     and reports it with OnDeliver, with when it arrived;
//   - answers GET requests (200 with a small JSON body);
//   - holds commands per device (Push) for devices that poll
//     GET /commands/{device}, long-polling with ?wait=30s;
//   - serves raw WebSocket devices at /ws/{device}: frames up are
//     delivered, commands (Push to the socket's path) go down.
//
// Faults make it answer every Nth device request with an error status
// (429 with Retry-After, 503), so a test sees how a fleet reacts.
//
// It knows nothing of the engine: the caller routes deliveries and
// commands by path.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of Options.
const (
	DefaultCommands  = "/commands/"
	DefaultWebSocket = "/ws/"
	DefaultQueue     = 64
	DefaultMaxWait   = 60 * time.Second
	DefaultMaxBody   = 64 << 10
	DefaultMaxKeys   = 1 << 20
	// writeTimeout bounds one push down a WebSocket.
	writeTimeout = 10 * time.Second
)

// Options configures an Endpoint. The zero value listens on a free
// loopback port with the defaults.
type Options struct {
	// Addr is the listen address; "" is 127.0.0.1:0.
	Addr string
	// Commands is the path prefix of command polls (GET prefix+device);
	// WebSocket the prefix of WebSocket devices.
	Commands, WebSocket string
	// Queue bounds the commands held per device; past it the oldest goes.
	Queue int
	// MaxWait caps a long poll's ?wait.
	MaxWait time.Duration
	// MaxBody bounds a request body; larger ones get 413.
	MaxBody int64
	// MaxKeys bounds the command queues held; past it polls get 503.
	MaxKeys int
	Faults  Faults
	Log     *slog.Logger
}

// Faults injects error responses into device requests (deliveries and
// GET requests; not polls, not WebSocket frames).
type Faults struct {
	// Every Nth request gets Status; 0 injects nothing.
	Every int
	// Status is the code sent, 503 by default.
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
}

func (o *Options) withDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Commands == "" {
		o.Commands = DefaultCommands
	}
	if o.WebSocket == "" {
		o.WebSocket = DefaultWebSocket
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Faults.Every > 0 && o.Faults.Status == 0 {
		o.Faults.Status = http.StatusServiceUnavailable
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// DeliverFunc receives what a device sent: the request path (or the
// WebSocket's), the body, only valid during the call, and when it
// arrived. It may be called from many goroutines at once.
type DeliverFunc func(path string, payload []byte, arrived time.Time)

// Endpoint is a running server.
type Endpoint struct {
	o    Options
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed by Close: ends long polls
	up   websocket.Upgrader

	deliver  atomic.Pointer[DeliverFunc]
	requests atomic.Uint64 // device requests, for Faults

	mu     sync.Mutex            // guards queues and sockets
	queues map[string]*queue     // by poll path
	socks  map[string]*wsConn    // by WebSocket path
	codes  map[int]*atomic.Int64 // responses by status; fixed at start
	wg     sync.WaitGroup        // the serve goroutine and socket readers
}

// countedCodes are the statuses Stats counts.
var countedCodes = []int{200, 204, 400, 404, 405, 413, 429, 500, 503}

// Start listens on o.Addr and serves until Close.
func Start(o Options) (*Endpoint, error) {
	o.withDefaults()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen: %w", err)
	}
	e := &Endpoint{o: o, ln: ln, done: make(chan struct{}), queues: map[string]*queue{},
		socks: map[string]*wsConn{}, codes: map[int]*atomic.Int64{}}
	for _, c := range countedCodes {
		e.codes[c] = new(atomic.Int64)
	}
	e.up = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512, WriteBufferPool: &sync.Pool{},
		HandshakeTimeout: writeTimeout, CheckOrigin: func(*http.Request) bool { return true }}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug)}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Warn("endpoint: serve", "err", err)
		}
	}()
	return e, nil
}

// Addr is the host:port the endpoint listens on.
func (e *Endpoint) Addr() string { return e.ln.Addr().String() }

// OnDeliver sets the function that receives what devices send.
func (e *Endpoint) OnDeliver(f DeliverFunc) { e.deliver.Store(&f) }

// Stats counts the responses sent, by status code (those of
// countedCodes; WebSocket upgrades are not counted).
func (e *Endpoint) Stats() map[int]int64 {
	out := make(map[int]int64, len(e.codes))
	for c, n := range e.codes {
		if v := n.Load(); v > 0 {
			out[c] = v
		}
	}
	return out
}

// Close stops listening, ends long polls and WebSockets, and waits for
// the endpoint's goroutines.
func (e *Endpoint) Close() error {
	select {
	case <-e.done:
		return nil
	default:
	}
	close(e.done)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = e.srv.Close()
	}
	e.mu.Lock()
	for _, s := range e.socks {
		s.c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
	return err
}

// ServeHTTP routes a request: WebSocket upgrades, command polls,
// deliveries (POST, PUT) and requests (GET).
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, e.o.WebSocket) && websocket.IsWebSocketUpgrade(r):
		e.serveWS(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(path, e.o.Commands):
		e.servePoll(w, r)
	case r.Method == http.MethodPost || r.Method == http.MethodPut:
		if e.fault(w) {
			return
		}
		e.serveDelivery(w, r)
	case r.Method == http.MethodGet:
		if e.fault(w) {
			return
		}
		e.reply(w, http.StatusOK, answerBody)
	default:
		w.Header().Set("Allow", "GET, POST, PUT")
		e.reply(w, http.StatusMethodNotAllowed, nil)
	}
}

// answerBody answers every GET request.
var answerBody = []byte(`{"ok":true}`)

// reply writes a status and a JSON body, counting the status.
func (e *Endpoint) reply(w http.ResponseWriter, code int, body []byte) {
	if n := e.codes[code]; n != nil {
		n.Add(1)
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(code)
	if body != nil {
		_, _ = w.Write(body)
	}
}

// fault answers the request with the injected status when it is due.
func (e *Endpoint) fault(w http.ResponseWriter) bool {
	f := e.o.Faults
	if f.Every <= 0 || e.requests.Add(1)%uint64(f.Every) != 0 {
		return false
	}
	if f.RetryAfter > 0 {
		secs := (f.RetryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	e.reply(w, f.Status, nil)
	return true
}

// serveDelivery reads a body and hands it on.
func (e *Endpoint) serveDelivery(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, e.o.MaxBody+1))
	switch {
	case err != nil:
		e.reply(w, http.StatusBadRequest, nil)
		return
	case int64(len(body)) > e.o.MaxBody:
		e.reply(w, http.StatusRequestEntityTooLarge, nil)
		return
	}
	if f := e.deliver.Load(); f != nil {
		(*f)(r.URL.Path, body, arrived)
	}
	e.reply(w, http.StatusNoContent, nil)
}
