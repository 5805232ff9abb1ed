package lwm2m

import (
	"fmt"

	"github.com/m2msim/m2msim/transports/coap"
)

// Error is an operation's outcome as the CoAP response code a client
// answers with: 4.00 for a bad payload or a wrong type, 4.04 for a path
// the device does not have, 4.05 for an operation the resource does not
// allow, 4.06 for a read in a format that cannot carry the answer, 4.15
// for a content format the device does not understand. Match it with
// errors.As and a *Error target, or with errors.Is and a sentinel
// (ErrNotFound ...), which matches by code alone.
type Error struct {
	Code   coap.Code
	Reason string
}

// The sentinels, one per code. errors.Is(err, ErrNotFound) holds for
// every *Error with code 4.04.
var (
	ErrBadRequest               = &Error{Code: coap.BadRequest}
	ErrNotFound                 = &Error{Code: coap.NotFound}
	ErrMethodNotAllowed         = &Error{Code: coap.MethodNotAllowed}
	ErrNotAcceptable            = &Error{Code: coap.NotAcceptable}
	ErrUnsupportedContentFormat = &Error{Code: coap.UnsupportedContentFormat}
)

// Error returns "lwm2m: 4.04: reason".
func (e *Error) Error() string {
	if e.Reason == "" {
		return "lwm2m: " + e.Code.String()
	}
	return "lwm2m: " + e.Code.String() + ": " + e.Reason
}

// Is matches another *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func codeErr(c coap.Code, format string, args ...any) *Error {
	return &Error{Code: c, Reason: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return codeErr(coap.BadRequest, format, args...)
}

func notFound(p Path) *Error { return codeErr(coap.NotFound, "%v not found", p) }

func notAllowed(format string, args ...any) *Error {
	return codeErr(coap.MethodNotAllowed, format, args...)
}
