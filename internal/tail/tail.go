// Package tail keeps the end of a stream: the last lines a test server
// printed, to show when a test fails.
package tail

import "sync"

// Buffer keeps the last Max bytes written to it. It is safe for
// concurrent use (a process's stdout and stderr write at once).
type Buffer struct {
	Max int

	mu      sync.Mutex // guards b and dropped
	b       []byte
	dropped bool
}

// Write keeps p, dropping the oldest bytes past Max.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.Max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.dropped = true
	}
	return len(p), nil
}

// String is what is kept, saying so when earlier bytes were dropped.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return "[earlier lines dropped]\n" + string(t.b)
	}
	return string(t.b)
}
