package server

import (
	"bytes"
	"sync"

	"github.com/pion/dtls/v2"
)

// sessionCache keeps the server's DTLS sessions for resumption (RFC
// 5246 §7.3): pion's SessionStore, keyed by session id, holding at most
// n sessions and forgetting the oldest first. Beside pion's id and
// master secret it keeps what the full handshake authenticated, which a
// resumed one does not carry again. It is safe for concurrent use.
type sessionCache struct {
	mu   sync.Mutex // guards the fields below
	m    map[string]*cachedSession
	ring []string // the ids in the order they were set; "" for none
	next int      // the ring's oldest slot, overwritten by the next Set
}

type cachedSession struct {
	s    dtls.Session
	peer *DTLSPeer // what its full handshake authenticated; nil until it is done
}

func newSessionCache(n int) *sessionCache {
	return &sessionCache{m: make(map[string]*cachedSession), ring: make([]string, n)}
}

// Get returns the session with id key, if cached.
func (c *sessionCache) Get(key []byte) (dtls.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[string(key)]; e != nil {
		return e.s, nil
	}
	return dtls.Session{}, nil
}

// Set caches the session a full handshake established, forgetting the
// oldest when full.
func (c *sessionCache) Set(key []byte, s dtls.Session) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, c.ring[c.next])
	id := string(key)
	c.ring[c.next] = id
	c.next = (c.next + 1) % len(c.ring)
	c.m[id] = &cachedSession{s: dtls.Session{ID: bytes.Clone(s.ID), Secret: bytes.Clone(s.Secret)}}
	return nil
}

// Del forgets a session.
func (c *sessionCache) Del(key []byte) error {
	c.mu.Lock()
	delete(c.m, string(key))
	c.mu.Unlock()
	return nil
}

// established tells the cache of a completed handshake whose session
// has id: it returns the peer its full handshake authenticated and true
// when the handshake resumed a cached session, and otherwise records
// peer for the session's resumptions.
func (c *sessionCache) established(id []byte, peer *DTLSPeer) (*DTLSPeer, bool) {
	if c == nil || len(id) == 0 {
		return peer, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[string(id)]
	switch {
	case e == nil: // forgotten already
		return peer, false
	case e.peer == nil:
		e.peer = peer
		return peer, false
	}
	return &DTLSPeer{UDPAddr: peer.UDPAddr, Identity: e.peer.Identity, Certificates: e.peer.Certificates}, true
}
