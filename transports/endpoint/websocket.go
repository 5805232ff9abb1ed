package endpoint

import (
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one WebSocket device.
type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex // serialises writes
}

// maxFrame bounds a frame read from a device.
const maxFrame = 64 << 10

// serveWS upgrades the request and reads the device's frames until the
// socket ends; a newer socket at the same path replaces an older one.
func (e *Endpoint) serveWS(w http.ResponseWriter, r *http.Request) {
	if _, err := Device(r.URL.Path, e.o.WebSocket); err != nil {
		e.reply(w, http.StatusNotFound, nil)
		return
	}
	c, err := e.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	c.SetReadLimit(min(maxFrame, e.o.MaxBody))
	s := &wsConn{c: c}
	path := r.URL.Path
	e.mu.Lock()
	select {
	case <-e.done:
		e.mu.Unlock()
		c.Close()
		return
	default:
	}
	if old := e.socks[path]; old != nil {
		old.c.Close()
	}
	e.socks[path] = s
	e.wg.Add(1)
	e.mu.Unlock()
	defer e.wg.Done()
	e.readWS(path, s)
}

// readWS delivers the device's frames until the socket fails or closes.
func (e *Endpoint) readWS(path string, s *wsConn) {
	defer func() {
		e.mu.Lock()
		if e.socks[path] == s {
			delete(e.socks, path)
		}
		e.mu.Unlock()
		s.c.Close()
	}()
	for {
		_, data, err := s.c.ReadMessage()
		if err != nil {
			return
		}
		if f := e.deliver.Load(); f != nil {
			(*f)(path, data, time.Now())
		}
	}
}

// pushWS writes a command to the device at path as a text frame:
// payload templates render text.
func (e *Endpoint) pushWS(path string, payload []byte) error {
	e.mu.Lock()
	s := e.socks[path]
	e.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	return s.c.WriteMessage(websocket.TextMessage, payload)
}

// Connected reports how many WebSocket devices are connected.
func (e *Endpoint) Connected() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.socks)
}
