package dial

import (
	"crypto/tls"
	"sync"
)

// SessionCache is one device's tls.ClientSessionCache: it keeps the last
// session (TLS 1.3 ticket or TLS 1.2 session id) for one server, all a
// device that talks to one broker needs, in a fraction of what
// tls.NewLRUClientSessionCache costs per device. The zero value is empty
// and ready.
type SessionCache struct {
	mu    sync.Mutex // guards key and state
	key   string
	state *tls.ClientSessionState
}

// Get returns the session kept for key.
func (c *SessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == nil || c.key != key {
		return nil, false
	}
	return c.state, true
}

// Put keeps cs for key, replacing what was kept; a nil cs forgets key's.
func (c *SessionCache) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case cs != nil:
		c.key, c.state = key, cs
	case c.key == key:
		c.key, c.state = "", nil
	}
}
