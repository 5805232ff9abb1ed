package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/m2msim/m2msim/transports/ws"
)

// WebSocketPath is the path of the URL WebSocketURL gives. The listener
// upgrades requests for any path, as mochi's own does.
const WebSocketPath = "/mqtt"

// wsListener is a mochi listener for MQTT over WebSocket. It stands in
// for mochi's listeners.Websocket, which binds when it serves, so a
// ":0" address never tells which port it took, and which keeps gorilla's
// 4 KiB read and write buffers for every client for the connection's
// life: the embedded broker runs in the fleet's process, so its
// per-client cost is the fleet's too.
type wsListener struct {
	ln        net.Listener
	srv       *http.Server // set by Init
	log       *slog.Logger
	establish listeners.EstablishFn // set by Serve before it accepts

	mu       sync.Mutex // guards conns and draining
	conns    map[net.Conn]struct{}
	draining bool
	// drainOnce makes drain idempotent: the broker drains the listener
	// before it closes, and closing drains it again.
	drainOnce sync.Once
}

// wsUpgrader sizes its read buffer like the device side's and shares
// pooled write buffers, so an idle client holds 512 bytes of buffers.
var wsUpgrader = websocket.Upgrader{
	Subprotocols:     []string{ws.Subprotocol},
	ReadBufferSize:   ws.ReadBufferSize,
	WriteBufferSize:  4096,
	WriteBufferPool:  &sync.Pool{},
	HandshakeTimeout: 10 * time.Second,
	// Devices are not browsers: there is no origin to protect.
	CheckOrigin: func(*http.Request) bool { return true },
}

// listenWebSocket binds addr for a wsListener.
func listenWebSocket(addr string) (*wsListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("broker: websocket listener on %s: %w", addr, err)
	}
	return &wsListener{ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

func (l *wsListener) ID() string { return "ws" }

func (l *wsListener) Address() string { return l.ln.Addr().String() }

func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	l.srv = &http.Server{
		Handler:           http.HandlerFunc(l.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return nil
}

// Serve upgrades each request and hands the connection to establish,
// which returns when the client is gone. It returns when Close closes
// the listener.
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.establish = establish
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		l.log.Error("websocket listener stopped", "error", err)
	}
}

func (l *wsListener) serve(w http.ResponseWriter, r *http.Request) {
	c, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered with an HTTP error
	}
	conn := ws.NewConn(c, time.Second)
	defer conn.Close()
	if !l.track(conn, true) {
		return
	}
	defer l.track(conn, false)
	if err := l.establish(l.ID(), conn); err != nil {
		l.log.Debug("websocket client ended", "error", err)
	}
}

// track adds or removes a client's conn. Once the listener is draining,
// it adds none and returns false.
func (l *wsListener) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !add {
		delete(l.conns, c)
		return true
	}
	if l.draining {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

// drainWait bounds how long drain waits for the broker to let go of its
// WebSocket clients.
const drainWait = 5 * time.Second

// drain stops accepting, closes every client's connection (hijacked
// connections are the handler's: http.Server.Shutdown leaves them be)
// and waits, at most drainWait, until the broker has let go of each. The
// broker then closes with no WebSocket client leaving at the same time,
// which can deadlock mochi's Server.Close (its Clients.GetByListener
// takes its read lock twice, and a departing client's Delete waits
// between the two). It is idempotent.
func (l *wsListener) drain() {
	l.drainOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l.srv.Shutdown(ctx)
		cancel()
		l.ln.Close() // in case Serve never ran
		l.mu.Lock()
		l.draining = true
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		for deadline := time.Now().Add(drainWait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			l.mu.Lock()
			n := len(l.conns)
			l.mu.Unlock()
			if n == 0 {
				return
			}
		}
	})
}

// Close drains the listener; its clients are gone by then, so it does
// not ask the broker to close them (see drain).
func (l *wsListener) Close(listeners.CloseFn) { l.drain() }
