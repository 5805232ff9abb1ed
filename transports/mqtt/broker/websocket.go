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

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
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
	l.track(conn, true)
	defer l.track(conn, false)
	defer conn.Close()
	if err := l.establish(l.ID(), conn); err != nil {
		l.log.Debug("websocket client ended", "error", err)
	}
}

func (l *wsListener) track(c net.Conn, add bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		l.conns[c] = struct{}{}
	} else {
		delete(l.conns, c)
	}
}

// Close stops accepting and closes every client's connection: hijacked
// connections are the handler's, and http.Server.Shutdown does not wait
// for them.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	l.srv.Shutdown(ctx)
	cancel()
	l.ln.Close() // in case Serve never ran
	closeClients(l.ID())
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
}
