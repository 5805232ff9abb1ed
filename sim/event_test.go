package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

type kinded struct{}

func (kinded) Error() string { return "connack: not authorized (5)" }
func (kinded) Kind() string  { return "connack_not_authorized" }

func TestErrorKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("dial 127.0.0.1:1883: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{wrap(kinded{}), "connack_not_authorized"},
		{context.Canceled, "canceled"},
		{wrap(os.ErrDeadlineExceeded), "timeout"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "refused"},
		{wrap(syscall.ECONNRESET), "reset"},
		{wrap(syscall.EMFILE), "too_many_files"},
		{wrap(syscall.EADDRNOTAVAIL), "no_ports"},
		{wrap(io.EOF), "closed"},
		{wrap(syscall.ENETUNREACH), "network_is_unreachable"},
		{errors.New("something else"), "other"},
	} {
		if got := ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
