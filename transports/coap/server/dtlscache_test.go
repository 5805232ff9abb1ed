package server

import (
	"net"
	"testing"

	"github.com/pion/dtls/v2"
)

// TestSessionCache: the cache holds its size, forgetting the oldest
// first, and tells a resumption from a full handshake, handing the
// first peer to the resumed one.
func TestSessionCache(t *testing.T) {
	c := newSessionCache(2)
	for _, id := range []string{"a", "b", "c"} {
		c.Set([]byte(id), dtls.Session{ID: []byte(id), Secret: []byte("s-" + id)})
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if s, _ := c.Get([]byte(id)); (s.ID != nil) != want || want && string(s.Secret) != "s-"+id {
			t.Errorf("Get(%q) = %+v, want cached %v", id, s, want)
		}
	}
	addr := &net.UDPAddr{Port: 1}
	full := &DTLSPeer{UDPAddr: addr, Identity: []byte("dev-1")}
	if p, resumed := c.established([]byte("b"), full); resumed || p != full {
		t.Errorf("established(b) after a full handshake = %v, %v", p, resumed)
	}
	again := &DTLSPeer{UDPAddr: &net.UDPAddr{Port: 2}}
	if p, resumed := c.established([]byte("b"), again); !resumed || string(p.Identity) != "dev-1" || p.UDPAddr != again.UDPAddr {
		t.Errorf("established(b) after a resumption = %+v, %v", p, resumed)
	}
	c.Del([]byte("b"))
	if s, _ := c.Get([]byte("b")); s.ID != nil {
		t.Error("b cached after Del")
	}
	var none *sessionCache
	if p, resumed := none.established([]byte("b"), full); resumed || p != full {
		t.Error("a nil cache resumed")
	}
}
