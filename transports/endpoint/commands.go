package endpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrNotConnected is returned by Push for a WebSocket path no device
// holds open.
var ErrNotConnected = errors.New("endpoint: no device connected at that path")

// ErrPath is returned by Push for a path that is neither a command poll
// path nor a WebSocket path.
var ErrPath = errors.New("endpoint: not a command or websocket path")

// queue is one device's pending commands. Fields are guarded by
// Endpoint.mu.
type queue struct {
	cmds [][]byte
	// wake is closed when a command arrives for a waiting long poll; nil
	// when none waits.
	wake chan struct{}
}

// Poll is the body of a command poll's 200 response: the commands held
// for the device, oldest first, each a JSON string.
type Poll struct {
	Commands []string `json:"commands"`
}

// MaxDevice bounds a device name in a path.
const MaxDevice = 256

// Device returns the device named by path under prefix: one non-empty
// path segment of at most MaxDevice bytes.
func Device(path, prefix string) (string, error) {
	dev, ok := strings.CutPrefix(path, prefix)
	switch {
	case !ok:
		return "", fmt.Errorf("path %q is not under %q", path, prefix)
	case dev == "":
		return "", fmt.Errorf("path %q names no device", path)
	case len(dev) > MaxDevice:
		return "", fmt.Errorf("path %q: device name longer than %d bytes", path, MaxDevice)
	case strings.ContainsAny(dev, "/?#"):
		return "", fmt.Errorf("path %q: device name holds /, ? or #", path)
	}
	return dev, nil
}

// ParseWait reads a long poll's wait ("30s", "1500ms" or whole seconds
// "30"): 0 for "", at most max.
func ParseWait(s string, max time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		var n int
		if _, serr := fmt.Sscanf(s, "%d", &n); serr != nil || fmt.Sprint(n) != s {
			return 0, fmt.Errorf("wait %q: want a duration such as 30s", s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, fmt.Errorf("wait %q: must not be negative", s)
	}
	return min(d, max), nil
}

// Push hands a command to the device at path: queued for a poll path,
// written down the socket for a WebSocket path.
func (e *Endpoint) Push(path string, payload []byte) error {
	if strings.HasPrefix(path, e.o.WebSocket) {
		return e.pushWS(path, payload)
	}
	if _, err := Device(path, e.o.Commands); err != nil {
		return fmt.Errorf("%w: %v", ErrPath, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[path]
	if q == nil {
		if len(e.queues) >= e.o.MaxKeys {
			return fmt.Errorf("endpoint: %d command queues held, at its limit", len(e.queues))
		}
		q = new(queue)
		e.queues[path] = q
	}
	if len(q.cmds) >= e.o.Queue {
		q.cmds = q.cmds[1:]
	}
	q.cmds = append(q.cmds, append([]byte(nil), payload...))
	if q.wake != nil {
		close(q.wake)
		q.wake = nil
	}
	return nil
}

// take removes and returns path's commands, or, when there are none,
// a channel closed when one arrives (with wait).
func (e *Endpoint) take(path string, wait bool) ([][]byte, <-chan struct{}, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queues[path]
	if q != nil && len(q.cmds) > 0 {
		cmds := q.cmds
		q.cmds = nil
		return cmds, nil, nil
	}
	if !wait {
		return nil, nil, nil
	}
	if q == nil {
		if len(e.queues) >= e.o.MaxKeys {
			return nil, nil, errors.New("too many queues")
		}
		q = new(queue)
		e.queues[path] = q
	}
	if q.wake == nil {
		q.wake = make(chan struct{})
	}
	return nil, q.wake, nil
}

// servePoll answers a command poll: 200 with the held commands, or 204
// when none came within the wait.
func (e *Endpoint) servePoll(w http.ResponseWriter, r *http.Request) {
	if _, err := Device(r.URL.Path, e.o.Commands); err != nil {
		e.reply(w, http.StatusNotFound, nil)
		return
	}
	wait, err := ParseWait(r.URL.Query().Get("wait"), e.o.MaxWait)
	if err != nil {
		e.reply(w, http.StatusBadRequest, nil)
		return
	}
	deadline := time.Now().Add(wait)
	for {
		cmds, wake, err := e.take(r.URL.Path, wait > 0)
		if err != nil {
			e.reply(w, http.StatusServiceUnavailable, nil)
			return
		}
		if len(cmds) > 0 {
			e.sendCommands(w, cmds)
			return
		}
		left := time.Until(deadline)
		if wake == nil || left <= 0 || !e.await(r, wake, left) {
			e.reply(w, http.StatusNoContent, nil)
			return
		}
	}
}

// await waits for wake, giving up at d, when the client goes or the
// endpoint closes; it reports whether wake came.
func (e *Endpoint) await(r *http.Request, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		return true
	case <-t.C:
	case <-r.Context().Done():
	case <-e.done:
	}
	return false
}

func (e *Endpoint) sendCommands(w http.ResponseWriter, cmds [][]byte) {
	p := Poll{Commands: make([]string, len(cmds))}
	for i, c := range cmds {
		p.Commands[i] = string(c)
	}
	body, err := json.Marshal(p)
	if err != nil {
		e.reply(w, http.StatusInternalServerError, nil)
		return
	}
	e.reply(w, http.StatusOK, body)
}
