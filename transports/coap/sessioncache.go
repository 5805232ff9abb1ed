package coap

import (
	"bytes"
	"sync"

	"github.com/pion/dtls/v2"
)

// SessionCache keeps one device's DTLS session for resumption: the
// session id and master secret of its last full handshake with a server.
// Give each device its own, as a real device keeps its own: devices
// sharing one would all resume the same session. The zero value is
// empty and ready; it is safe for concurrent use.
type SessionCache struct {
	mu     sync.Mutex // guards the fields below
	key    string     // pion's key: the server's address and name
	id     []byte
	secret []byte
}

// Forget drops the cached session, so that the next handshake is a full
// one (which caches its session again).
func (c *SessionCache) Forget() {
	c.mu.Lock()
	c.key, c.id, c.secret = "", nil, nil
	c.mu.Unlock()
}

// Cached reports whether a session is cached for resumption.
func (c *SessionCache) Cached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id != nil
}

// sessionStore is pion's view of a SessionCache for one handshake; it
// remembers the session it offered, to tell a resumption.
type sessionStore struct {
	c       *SessionCache
	offered []byte // guarded by c.mu
}

// Get returns the cached session for key (pion's client key, the
// server's address and name), or none.
func (s *sessionStore) Get(key []byte) (dtls.Session, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.id == nil || s.c.key != string(key) {
		return dtls.Session{}, nil
	}
	s.offered = s.c.id
	return dtls.Session{ID: s.c.id, Secret: s.c.secret}, nil
}

// Set caches the session a full handshake established.
func (s *sessionStore) Set(key []byte, ss dtls.Session) error {
	s.c.mu.Lock()
	s.c.key = string(key)
	s.c.id = bytes.Clone(ss.ID)
	s.c.secret = bytes.Clone(ss.Secret)
	s.c.mu.Unlock()
	return nil
}

// Del drops the session the server would not resume. pion's client
// passes the session id here, not the key given to Set, so either
// matches.
func (s *sessionStore) Del(key []byte) error {
	s.c.mu.Lock()
	if s.c.key == string(key) || bytes.Equal(s.c.id, key) {
		s.c.key, s.c.id, s.c.secret = "", nil, nil
	}
	s.c.mu.Unlock()
	return nil
}

// resumed reports whether conn's handshake resumed the offered session:
// the server echoed its id (RFC 5246 §7.4.1.3).
func (s *sessionStore) resumed(conn *dtls.Conn) bool {
	if s == nil {
		return false
	}
	s.c.mu.Lock()
	offered := s.offered
	s.c.mu.Unlock()
	return offered != nil && bytes.Equal(conn.ConnectionState().SessionID, offered)
}
