package mqtt

import (
	"io"
	"time"
)

// arrivalReader reads a Backend's connection and tells when the bytes of
// its last read reached this host. A read takes every packet it completes
// to the time of its newest byte, which errs late, the safe side for the
// latencies measured from it.
type arrivalReader interface {
	io.Reader
	arrived() time.Time
}

// clockReader stamps a read with the time it returned: all it can know
// where the kernel gives no receive timestamp.
type clockReader struct {
	r  io.Reader
	at time.Time
}

func (c *clockReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.at = time.Now()
	return n, err
}

func (c *clockReader) arrived() time.Time { return c.at }
