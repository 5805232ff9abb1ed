package mqtt

import (
	"encoding/hex"
	"io"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// trickleConn hands the reader one packet per Read, as a stream of
// messages arriving one at a time does, and honours read deadlines.
type trickleConn struct {
	recConn
	in chan []byte
	dm sync.Mutex // guards dl
	dl time.Time
}

func (c *trickleConn) SetReadDeadline(t time.Time) error {
	c.dm.Lock()
	c.dl = t
	c.dm.Unlock()
	return nil
}

func (c *trickleConn) Read(b []byte) (int, error) {
	c.dm.Lock()
	dl := c.dl
	c.dm.Unlock()
	var expired <-chan time.Time
	if !dl.IsZero() {
		expired = time.After(time.Until(dl))
	}
	select {
	case p, ok := <-c.in:
		if !ok {
			return 0, io.EOF
		}
		return copy(b, p), nil
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	}
}

// A Backend's connection acknowledges messages that arrive one read at a
// time in batches of ackHold, and what it holds when the stream pauses
// within ackDelay: every message is acknowledged, in fewer writes.
func TestBackendHoldsAcksForTheNextRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := &trickleConn{recConn: recConn{take: -1}, in: make(chan []byte)}
		s := testSession(conn, defaultSendBuffer)
		s.bk = &backendSide{onMessage: func(_, _ []byte, _ time.Time) {}, in: &clockReader{r: conn}}
		go s.readLoop()
		send := func(id uint16) { conn.in <- appendPublish(nil, id, "t", []byte("p"), 1, false) }
		writes := func() int { _, n := conn.written(); return n }

		for id := uint16(1); id <= ackHold; id++ {
			send(id)
			time.Sleep(100 * time.Microsecond) // a message every 100 µs
		}
		synctest.Wait()
		if n := writes(); n != 1 {
			t.Errorf("%d writes for %d messages 100 µs apart, want 1", n, ackHold)
		}
		send(ackHold + 1)
		send(ackHold + 2)
		synctest.Wait()
		if n := writes(); n != 1 {
			t.Errorf("%d writes, want the 2 newest acknowledgements still held", n)
		}
		time.Sleep(ackDelay)
		synctest.Wait()
		var want []byte
		for id := uint16(1); id <= ackHold+2; id++ {
			a := ackPacket(typePuback, id)
			want = append(want, a[:]...)
		}
		if got, n := conn.written(); n != 2 || got != hexOf(want) {
			t.Errorf("wrote %s in %d writes, want %s in 2: the pause flushes what was held", got, n, hexOf(want))
		}
		close(conn.in)
		<-s.done
	})
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
