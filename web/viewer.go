package web

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// viewerBuffer is how many frames wait for a viewer: a few seconds'
// worth. When it is full the oldest frame goes, and before its next frame
// the viewer is sent one that catches up with every point it missed (or
// the whole history, when the missed points have been thinned away).
const viewerBuffer = 8

// timing bounds every wait on a viewer.
type timing struct {
	write time.Duration // deadline of every write
	ping  time.Duration // how often the server pings
	pong  time.Duration // a viewer that answers no ping for this long is dropped (> ping)
	close time.Duration // how long to wait for the viewer's answer to a close frame
}

var defaultTiming = timing{write: 10 * time.Second, ping: 20 * time.Second, pong: 45 * time.Second, close: time.Second}

// viewer is one WebSocket connection. The ticker offers it frames; its
// writer goroutine sends them, and its reader goroutine reads pongs and
// the close frame.
type viewer struct {
	conn    *websocket.Conn
	ch      chan frame   // drop-oldest; only the ticker (under hub.mu) sends
	resync  atomic.Bool  // the viewer must catch up before its next frame
	dropped atomic.Int64 // frames dropped because the viewer was slow
	// next is the index after the last point sent to the viewer, -1
	// before its history; only its writer touches it.
	next int
}

func newViewer(c *websocket.Conn) *viewer {
	v := &viewer{conn: c, ch: make(chan frame, viewerBuffer), next: -1}
	v.resync.Store(true) // a new viewer starts with the history
	return v
}

// offer queues b for the viewer, dropping the oldest queued frame when
// the buffer is full. It never blocks: only the ticker sends, under
// hub.mu, and the writer only takes.
func (v *viewer) offer(f frame) {
	for {
		select {
		case v.ch <- f:
			return
		default:
		}
		select {
		case <-v.ch:
			v.dropped.Add(1)
			v.resync.Store(true)
		default:
		}
	}
}

// drain empties the buffer (under hub.mu, before a history).
func (v *viewer) drain() {
	for {
		select {
		case <-v.ch:
		default:
			return
		}
	}
}

func (v *viewer) send(b []byte, wait time.Duration) error {
	if err := v.conn.SetWriteDeadline(time.Now().Add(wait)); err != nil {
		return err
	}
	return v.conn.WriteMessage(websocket.TextMessage, b)
}

// handleWS serves one viewer until it leaves or the Server closes. Its
// two goroutines (this one writes, a second one reads) count in s.wg.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "live view closed", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	up := websocket.Upgrader{
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  16 << 10,
		CheckOrigin:      checkOrigin,
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("live view: websocket refused", "remote", r.RemoteAddr, "err", err)
		return // Upgrade has replied (403 for a bad Origin)
	}
	v := newViewer(conn)
	s.hub.add(v)
	defer s.hub.remove(v)
	s.log.Debug("live view: viewer joined", "remote", r.RemoteAddr)

	readerDone := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(readerDone)
		s.read(v)
	}()
	s.write(v, readerDone)
	conn.Close()
	<-readerDone
	s.log.Debug("live view: viewer left", "remote", r.RemoteAddr, "dropped_frames", v.dropped.Load())
}

// read keeps the read deadline moving while pongs arrive and returns when
// the connection ends. Viewers send nothing else that matters.
func (s *Server) read(v *viewer) {
	c := v.conn
	c.SetReadLimit(1024)
	c.SetReadDeadline(time.Now().Add(s.timing.pong))
	c.SetPongHandler(func(string) error {
		return c.SetReadDeadline(time.Now().Add(s.timing.pong))
	})
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

// write sends the history, then frames and pings, until the viewer goes
// or the Server closes.
func (s *Server) write(v *viewer, readerDone <-chan struct{}) {
	ping := time.NewTicker(s.timing.ping)
	defer ping.Stop()
	for {
		if v.resync.Load() {
			m := s.hub.catchUp(v)
			b, err := json.Marshal(m)
			if err != nil {
				s.log.Error("live view: cannot encode a catch-up message", "err", err)
				return
			}
			if v.send(b, s.timing.write) != nil {
				return
			}
			v.next = m.end()
			continue
		}
		select {
		case <-s.stop:
			s.goodbye(v, readerDone)
			return
		case <-readerDone:
			return
		case <-ping.C:
			if v.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.timing.write)) != nil {
				return
			}
		case f := <-v.ch:
			if v.resync.Load() {
				continue // a catch-up with these points comes first
			}
			if v.send(f.b, s.timing.write) != nil {
				return
			}
			v.next = f.next
		}
	}
}

// goodbye sends a close frame and waits a little for the viewer's answer.
func (s *Server) goodbye(v *viewer, readerDone <-chan struct{}) {
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "live view closed")
	if v.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.timing.close)) != nil {
		return
	}
	t := time.NewTimer(s.timing.close)
	defer t.Stop()
	select {
	case <-readerDone:
	case <-t.C:
	}
}
