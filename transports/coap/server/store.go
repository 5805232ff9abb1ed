package server

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// store is the server's resources, by path ("/a/b").
type store struct {
	c     *Config
	mu    sync.RWMutex // guards res and bytes; taken before observers.mu when both are held
	res   map[string]*resource
	bytes int64 // the sum of the representations' sizes
}

// resource is one stored representation. A snapshot (a copy) stays
// valid after the lock is released: payload is never modified once
// stored, a write stores a new slice.
type resource struct {
	path    string
	payload []byte
	format  int32  // Content-Format; -1: none
	etag    uint32 // bumped by every write: the ETag of block-wise reads
	seq     uint32 // the Observe sequence number of this representation (24 bits)
}

// keepFormat tells write to keep the resource's Content-Format.
const keepFormat = -2

func (st *store) init(c *Config) {
	st.c = c
	st.res = make(map[string]*resource)
}

// get returns a snapshot of the resource at path.
func (st *store) get(path []byte) (resource, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	r, ok := st.res[string(path)]
	if !ok {
		return resource{}, false
	}
	return *r, true
}

// write stores body at path: a new representation, or with add the old
// one followed by body (POST). own hands body over (it is not copied).
// It returns 2.01 Created or 2.04 Changed as a bool, the snapshot, and
// the part of its payload body became.
func (st *store) write(path []byte, body []byte, own, add bool, format int32) (created bool, snap resource, added []byte, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.res[string(path)]
	var old []byte
	if r != nil {
		old = r.payload
	}
	size := len(body)
	if add {
		size += len(old)
	}
	switch {
	case size > st.c.MaxResourceSize:
		return false, resource{}, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, st.c.MaxResourceSize)
	case r == nil && len(st.res) >= st.c.MaxResources:
		return false, resource{}, nil, fmt.Errorf("%w: %d resources", ErrFull, len(st.res))
	case st.bytes+int64(size-len(old)) > st.c.MaxBytes:
		return false, resource{}, nil, fmt.Errorf("%w: %d bytes stored", ErrFull, st.bytes)
	}
	var p []byte
	switch {
	case add:
		p = append(old[:len(old):len(old)], body...) // a new array: old stays intact for its readers
	case own:
		p = body
	default:
		p = slices.Clone(body)
	}
	if r == nil {
		r = &resource{path: string(path), format: -1}
		st.res[r.path] = r
		created = true
	}
	st.bytes += int64(len(p) - len(old))
	r.payload = p
	r.etag++
	r.seq = (r.seq + 1) & seqMask
	switch {
	case format != keepFormat:
		r.format = format
	case created:
		r.format = -1
	}
	return created, *r, p[len(p)-len(body):], nil
}

// remove deletes the resource at path, returning its key if there was
// one.
func (st *store) remove(path []byte) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r, ok := st.res[string(path)]
	if !ok {
		return "", false
	}
	delete(st.res, r.path)
	st.bytes -= int64(len(r.payload))
	return r.path, true
}

// size returns the number of resources and their bytes.
func (st *store) size() (int, int64) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.res), st.bytes
}

// links lists the resources in CoRE Link Format (RFC 6690), every one
// observable: the answer to GET /.well-known/core.
func (st *store) links() []byte {
	st.mu.RLock()
	paths := make([]string, 0, len(st.res))
	for p := range st.res {
		paths = append(paths, p)
	}
	st.mu.RUnlock()
	slices.Sort(paths)
	var b []byte
	for i, p := range paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '<')
		b = append(b, p...)
		b = append(b, ">;obs"...)
	}
	return b
}

// normalize makes p a store key: "/" first, as a request's Uri-Path
// options make it.
func normalize(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// Put stores payload at path, creating or replacing the resource as a
// client's PUT would (its Content-Format is kept), and notifies its
// observers: a command pushed to the devices that observe it. It returns
// an error wrapping ErrTooLarge or ErrFull past the Config's limits.
// payload is copied.
func (s *Server) Put(path string, payload []byte) error {
	key := []byte(normalize(path))
	_, snap, _, err := s.store.write(key, payload, false, false, keepFormat)
	if err != nil {
		return fmt.Errorf("server: put %s: %w", key, err)
	}
	s.obs.notify(snap)
	return nil
}

// Get returns the representation at path, and whether there is one. The
// slice is the server's: do not modify it.
func (s *Server) Get(path string) ([]byte, bool) {
	r, ok := s.store.get([]byte(normalize(path)))
	return r.payload, ok
}
