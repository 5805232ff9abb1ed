package coap

import "strconv"

// Type is a message's type (RFC 7252 §3): confirmable, non-confirmable,
// acknowledgement or reset.
type Type uint8

// The message types.
const (
	Confirmable     Type = 0 // CON: retransmitted until acknowledged
	NonConfirmable  Type = 1 // NON: sent once
	Acknowledgement Type = 2 // ACK: acknowledges a CON, may carry its response
	Reset           Type = 3 // RST: rejects a message
)

var typeNames = [...]string{"CON", "NON", "ACK", "RST"}

// String returns "CON", "NON", "ACK" or "RST".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Code is a message's code: a 3-bit class and a 5-bit detail, written
// "c.dd" (RFC 7252 §3, §12.1). Class 0 holds the request methods (0.01
// GET ...) and the empty message (0.00); classes 2, 4 and 5 the
// responses.
type Code uint8

// NewCode returns the code class.detail.
func NewCode(class, detail uint8) Code { return Code(class<<5 | detail&0x1f) }

// The codes of RFC 7252 §12.1, RFC 7959 (2.31, 4.08, 4.13) and RFC 8132
// (FETCH, PATCH, iPATCH).
const (
	Empty  Code = 0x00 // 0.00
	GET    Code = 0x01 // 0.01
	POST   Code = 0x02 // 0.02
	PUT    Code = 0x03 // 0.03
	DELETE Code = 0x04 // 0.04
	FETCH  Code = 0x05 // 0.05
	PATCH  Code = 0x06 // 0.06
	IPATCH Code = 0x07 // 0.07

	Created  Code = 2<<5 | 1  // 2.01
	Deleted  Code = 2<<5 | 2  // 2.02
	Valid    Code = 2<<5 | 3  // 2.03
	Changed  Code = 2<<5 | 4  // 2.04
	Content  Code = 2<<5 | 5  // 2.05
	Continue Code = 2<<5 | 31 // 2.31

	BadRequest               Code = 4<<5 | 0  // 4.00
	Unauthorized             Code = 4<<5 | 1  // 4.01
	BadOption                Code = 4<<5 | 2  // 4.02
	Forbidden                Code = 4<<5 | 3  // 4.03
	NotFound                 Code = 4<<5 | 4  // 4.04
	MethodNotAllowed         Code = 4<<5 | 5  // 4.05
	NotAcceptable            Code = 4<<5 | 6  // 4.06
	RequestEntityIncomplete  Code = 4<<5 | 8  // 4.08
	PreconditionFailed       Code = 4<<5 | 12 // 4.12
	RequestEntityTooLarge    Code = 4<<5 | 13 // 4.13
	UnsupportedContentFormat Code = 4<<5 | 15 // 4.15

	InternalServerError  Code = 5<<5 | 0 // 5.00
	NotImplemented       Code = 5<<5 | 1 // 5.01
	BadGateway           Code = 5<<5 | 2 // 5.02
	ServiceUnavailable   Code = 5<<5 | 3 // 5.03
	GatewayTimeout       Code = 5<<5 | 4 // 5.04
	ProxyingNotSupported Code = 5<<5 | 5 // 5.05
)

// Class returns the class: 0 for requests, 2, 4 or 5 for responses.
func (c Code) Class() uint8 { return uint8(c) >> 5 }

// Detail returns the detail, 0 to 31.
func (c Code) Detail() uint8 { return uint8(c) & 0x1f }

// IsRequest reports whether c is a method (0.01 to 0.31).
func (c Code) IsRequest() bool { return c.Class() == 0 && c != Empty }

// IsResponse reports whether c is in a response class (2, 4 or 5).
func (c Code) IsResponse() bool {
	switch c.Class() {
	case 2, 4, 5:
		return true
	}
	return false
}

// String returns "c.dd", as in "2.05" or "0.01": a stable label for
// counts by code.
func (c Code) String() string {
	d := c.Detail()
	return string([]byte{'0' + c.Class(), '.', '0' + d/10, '0' + d%10})
}
