package mqtt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// recConn is a net.Conn that serves r to reads and records every write,
// taking at most take bytes a TryWrite (-1: all of them).
type recConn struct {
	fakeConn
	mu     sync.Mutex
	writes [][]byte
	tries  int
	take   int
}

func (c *recConn) TryWrite(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tries++
	n := len(b)
	if c.take >= 0 {
		n = min(n, c.take)
	}
	if n > 0 {
		c.writes = append(c.writes, bytes.Clone(b[:n]))
	}
	return n, nil
}

func (c *recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(b))
	return len(b), nil
}

func (c *recConn) written() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return hex.EncodeToString(bytes.Join(c.writes, nil)), len(c.writes)
}

func testSession(conn net.Conn, sendBuf int) *Session {
	return &Session{conn: conn, raw: rawConn(conn), h: nopHandler{}, timeout: 5 * time.Second,
		sendBuf: sendBuf, done: make(chan struct{})}
}

// TestAcksBatched feeds ten QoS 1 PUBLISHes in one read (into a
// Backend-sized buffer): the reader acknowledges them with one write.
func TestAcksBatched(t *testing.T) {
	var in []byte
	var want string
	for id := uint16(1); id <= 10; id++ {
		in = appendPublish(in, id, "t", []byte("p"), 1, false)
		a := ackPacket(typePuback, id)
		want += hex.EncodeToString(a[:])
	}
	conn := &recConn{fakeConn: fakeConn{r: bytes.NewReader(in)}, take: -1}
	s := testSession(conn, defaultSendBuffer)
	s.rd.big = true
	s.readLoop()
	if got, writes := conn.written(); got != want || writes != 1 {
		t.Errorf("wrote %s in %d writes, want %s in 1", got, writes, want)
	}
}

// TestBacklogKeepsOrder has the socket take 3 bytes, then nothing: the
// rest of the packet and those after it wait, in order, for the flusher.
func TestBacklogKeepsOrder(t *testing.T) {
	conn := &recConn{take: 3}
	s := testSession(conn, 64)
	var want []byte
	for id := uint16(1); id <= 3; id++ {
		if err := s.Publish(id, "t", []byte("0123456789"), 1, false); err != nil {
			t.Fatalf("Publish(%d) = %v", id, err)
		}
		want = appendPublish(want, id, "t", []byte("0123456789"), 1, false)
		conn.mu.Lock()
		conn.take = 0
		conn.mu.Unlock()
	}
	waitBacklog(t, s)
	if got, _ := conn.written(); got != hex.EncodeToString(want) {
		t.Errorf("wrote %s, want %s", got, want)
	}
	if _, tries := conn.written(); conn.tries != 1 {
		t.Errorf("%d TryWrites (%d writes), want 1: later packets must queue behind the backlog", conn.tries, tries)
	}
}

func waitBacklog(t *testing.T, s *Session) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.wmu.Lock()
		bl := s.bl
		s.wmu.Unlock()
		if bl == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("backlog not flushed")
		}
		<-bl.done
	}
}

// TestSendBufferLimit checks that a PUBLISH that would take the backlog
// past SendBuffer is refused whole, a control packet is not, and a packet
// bigger than the limit goes when nothing waits.
func TestSendBufferLimit(t *testing.T) {
	a, b := net.Pipe() // no TryWrite: everything goes through the flusher
	defer b.Close()
	s := testSession(a, 100)
	big := make([]byte, 150)
	if err := s.Publish(1, "t", big, 1, false); err != nil {
		t.Fatalf("Publish over the limit with nothing waiting = %v, want nil", err)
	}
	err := s.Publish(2, "t", []byte("x"), 1, false)
	var full SendBufferFullError
	if !errors.As(err, &full) || full.Packet != 8 || full.Limit != 100 || !strings.Contains(err.Error(), "send buffer full") {
		t.Fatalf("Publish behind a full backlog = %v, want a SendBufferFullError for 8 bytes", err)
	}
	if err := s.Ping(); err != nil {
		t.Errorf("Ping behind a full backlog = %v, want nil", err)
	}
	want := append(appendPublish(nil, 1, "t", big, 1, false), pingreqPacket[:]...)
	var got []byte
	buf := make([]byte, 256)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(want) {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("peer read %x, want %x (the refused PUBLISH left no byte)", got, want)
	}
	waitBacklog(t, s)
	if err := s.Publish(3, "t", []byte("x"), 1, false); err != nil {
		t.Errorf("Publish after the backlog drained = %v", err)
	}
	go io.Copy(io.Discard, b)
	s.conn.Close()
}

// TestFlusherTimeout checks that a backlog no byte of which goes out for
// the timeout ends the session.
func TestFlusherTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	s := testSession(a, 1<<20)
	s.timeout = 50 * time.Millisecond
	if err := s.Publish(1, "t", []byte("x"), 1, false); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	bl := s.bl
	s.wmu.Unlock()
	if bl == nil {
		t.Fatal("no backlog over a net.Pipe nobody reads")
	}
	<-bl.done
	s.wmu.Lock()
	werr := s.werr
	s.wmu.Unlock()
	if !errors.Is(werr, os.ErrDeadlineExceeded) {
		t.Errorf("session ended with %v, want a write deadline", werr)
	}
}
