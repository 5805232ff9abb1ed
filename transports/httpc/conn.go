package httpc

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// maxBody bounds a response body the client reads.
const maxBody = 1 << 20

// Buffers are taken for one exchange and given back after it, so an idle
// keep-alive device holds only its socket.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 2048) }}
	writes  = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
)

// lane is one connection slot: the device's keep-alive connection, or
// none between exchanges when it opens a connection per request. Only
// one goroutine uses a lane at a time.
type lane struct {
	o    *Options
	conn net.Conn // nil between connections
}

// Request is one exchange a device starts.
type Request struct {
	Method string
	// Target is the request target: a path with an optional query.
	Target      string
	Body        []byte
	ContentType string
}

// Response is a response as the device read it.
type Response struct {
	Status Status
	// RetryAfter is the parsed Retry-After header, 0 when absent.
	RetryAfter time.Duration
	Body       []byte
}

// dial opens the lane's connection, with TLS when configured.
func (l *lane) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.o.Timeout)
	defer cancel()
	c, err := l.o.Dial(ctx, "tcp", l.o.Addr)
	if err != nil {
		return fmt.Errorf("httpc: dial %s: %w", l.o.Addr, err)
	}
	if l.o.TLS != nil {
		tc := tls.Client(c, l.o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return fmt.Errorf("httpc: tls handshake with %s: %w", l.o.Addr, err)
		}
		c = tc
	}
	l.conn = c
	return nil
}

// close drops the lane's connection.
func (l *lane) close() {
	if l.conn != nil {
		l.conn.Close()
		l.conn = nil
	}
}

// roundTrip sends r and reads its response within extra beyond the
// client's timeout, dialling first when the lane holds no connection. A
// kept connection the server closed while idle is redialled once.
func (l *lane) roundTrip(ctx context.Context, r *Request, extra time.Duration) (Response, error) {
	reused := l.conn != nil
	if !reused {
		if err := l.dial(ctx); err != nil {
			return Response{}, err
		}
	}
	resp, sent, err := l.exchange(ctx, r, extra)
	if err != nil && reused && !sent && ctx.Err() == nil {
		l.close()
		if err := l.dial(ctx); err != nil {
			return Response{}, err
		}
		resp, _, err = l.exchange(ctx, r, extra)
	}
	if err != nil || !l.o.KeepAlive {
		l.close()
	}
	return resp, err
}

// exchange writes r on the lane's connection and reads the response;
// sent reports whether any of the response came back (when not, a kept
// connection may have been closed by the server while idle).
func (l *lane) exchange(ctx context.Context, r *Request, extra time.Duration) (resp Response, sent bool, err error) {
	c := l.conn
	if err := c.SetDeadline(time.Now().Add(l.o.Timeout + extra)); err != nil {
		return resp, false, err
	}
	// Close unblocks an exchange under way at once.
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })()
	bp := writes.Get().(*[]byte)
	*bp = l.appendRequest((*bp)[:0], r)
	_, err = c.Write(*bp)
	if cap(*bp) <= 64<<10 {
		writes.Put(bp)
	}
	if err != nil {
		return resp, false, fmt.Errorf("httpc: write %s %s: %w", r.Method, r.Target, err)
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	defer func() {
		if br.Buffered() > 0 { // bytes past the response: the connection is out of step
			l.close()
		}
		br.Reset(nil)
		readers.Put(br)
	}()
	if _, err := br.Peek(1); err != nil {
		return resp, false, fmt.Errorf("httpc: read %s %s: %w", r.Method, r.Target, err)
	}
	resp, closing, err := readResponse(br, r.Method)
	if err != nil {
		return resp, true, fmt.Errorf("httpc: %s %s: %w", r.Method, r.Target, err)
	}
	if closing {
		l.close()
	}
	return resp, true, nil
}

// readResponse parses a response with the standard library's parser;
// closing reports that the server closes the connection after it.
func readResponse(br *bufio.Reader, method string) (resp Response, closing bool, err error) {
	hr, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return Response{}, false, err
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if err != nil {
		return Response{}, false, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return Response{}, false, fmt.Errorf("body over %d bytes", maxBody)
	}
	resp = Response{Status: Status(hr.StatusCode), Body: body}
	resp.RetryAfter, _ = ParseRetryAfter(hr.Header.Get("Retry-After"), time.Now())
	return resp, hr.Close, nil
}

// appendRequest writes r as an HTTP/1.1 request.
func (l *lane) appendRequest(b []byte, r *Request) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.Target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, l.o.Host...)
	b = append(b, "\r\nUser-Agent: m2msim\r\n"...)
	if !l.o.KeepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	if r.Method != http.MethodGet || len(r.Body) > 0 {
		if r.ContentType != "" {
			b = append(b, "Content-Type: "...)
			b = append(b, r.ContentType...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, r.Body...)
}
