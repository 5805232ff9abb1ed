package httpc

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Status is an HTTP response status code.
type Status int

// Metric names the status in counts: "http_200", "http_429".
func (s Status) Metric() string { return "http_" + strconv.Itoa(int(s)) }

// StatusError is a response of class 4xx or 5xx: the exchange failed
// with that code. Match it with errors.As and a *StatusError target.
type StatusError struct {
	Code Status
	// RetryAfter is the response's Retry-After, 0 when it had none.
	RetryAfter time.Duration
}

// Error says which status ended the exchange.
func (e *StatusError) Error() string {
	return "httpc: " + strconv.Itoa(int(e.Code)) + " " + http.StatusText(int(e.Code))
}

// Kind names the status in error counts, as Metric does.
func (e *StatusError) Kind() string { return e.Code.Metric() }

// ErrClosed is returned by calls on a session after Close or after its
// connection was lost.
var ErrClosed = errors.New("httpc: session closed")

// maxRetryAfter bounds a Retry-After the client parses.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): whole
// seconds or an HTTP date, relative to now. It returns 0 and false when
// the header is absent or not understood; past dates give 0 and true.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return min(time.Duration(n)*time.Second, maxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}
