package coap

import (
	"encoding/binary"
	"slices"
	"strings"
)

// OptionID is an option number (RFC 7252 §5.4, §12.2).
type OptionID uint16

// The option numbers of RFC 7252, RFC 7641 (Observe), RFC 7959 (Block1,
// Block2, Size2) and RFC 7967 (No-Response).
const (
	IfMatch       OptionID = 1
	URIHost       OptionID = 3
	ETag          OptionID = 4
	IfNoneMatch   OptionID = 5
	Observe       OptionID = 6
	URIPort       OptionID = 7
	LocationPath  OptionID = 8
	URIPath       OptionID = 11
	ContentFormat OptionID = 12
	MaxAge        OptionID = 14
	URIQuery      OptionID = 15
	Accept        OptionID = 17
	LocationQuery OptionID = 20
	Block2        OptionID = 23
	Block1        OptionID = 27
	Size2         OptionID = 28
	ProxyURI      OptionID = 35
	ProxyScheme   OptionID = 39
	Size1         OptionID = 60
	NoResponse    OptionID = 258
)

// Critical reports whether a receiver that does not know the option must
// reject the message (odd numbers, RFC 7252 §5.4.1).
func (id OptionID) Critical() bool { return id&1 == 1 }

// Option is one option: its number and its raw value. Integers are
// big-endian with no leading zero bytes (RFC 7252 §3.2), strings UTF-8.
type Option struct {
	ID    OptionID
	Value []byte
}

// Content formats (RFC 7252 §12.3, RFC 8428 SenML, OMA LwM2M), the values
// of the Content-Format and Accept options.
const (
	TextPlain   = 0
	LinkFormat  = 40
	XML         = 41
	OctetStream = 42
	EXI         = 47
	JSON        = 50
	CBOR        = 60
	SenMLJSON   = 110
	SenMLCBOR   = 112
	LwM2MTLV    = 11542
	LwM2MJSON   = 11543
)

// Option returns the value of the first option id, and whether there is
// one.
func (m *Message) Option(id OptionID) ([]byte, bool) {
	for _, o := range m.Options {
		if o.ID == id {
			return o.Value, true
		}
	}
	return nil, false
}

// Uint returns the first option id as an unsigned integer, and false
// when there is none or its value is longer than 4 bytes.
func (m *Message) Uint(id OptionID) (uint32, bool) {
	v, ok := m.Option(id)
	if !ok || len(v) > 4 {
		return 0, false
	}
	var n uint32
	for _, b := range v {
		n = n<<8 | uint32(b)
	}
	return n, true
}

// AddOption adds an option after any with the same or a lower number,
// keeping Options in the order they are encoded in.
func (m *Message) AddOption(id OptionID, value []byte) {
	i := len(m.Options)
	for i > 0 && m.Options[i-1].ID > id {
		i--
	}
	m.Options = slices.Insert(m.Options, i, Option{ID: id, Value: value})
}

// RemoveOption removes every option id.
func (m *Message) RemoveOption(id OptionID) {
	m.Options = slices.DeleteFunc(m.Options, func(o Option) bool { return o.ID == id })
}

// SetUint replaces the options id with one holding v in the fewest bytes
// (none for 0).
func (m *Message) SetUint(id OptionID, v uint32) {
	m.RemoveOption(id)
	m.AddOption(id, appendUint(nil, v))
}

func appendUint(b []byte, v uint32) []byte {
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], v)
	i := 0
	for i < 4 && buf[i] == 0 {
		i++
	}
	return append(b, buf[i:]...)
}

// Strings returns the values of every option id, in order, as strings:
// a request's Uri-Path segments or its Uri-Query parameters.
func (m *Message) Strings(id OptionID) []string {
	var out []string
	for _, o := range m.Options {
		if o.ID == id {
			out = append(out, string(o.Value))
		}
	}
	return out
}

// Path returns the Uri-Path options joined as "/a/b" ("/" for none).
func (m *Message) Path() string { return m.joined(URIPath, "/", "/") }

// Query returns the Uri-Query options joined as "a=1&b" ("" for none).
func (m *Message) Query() string { return m.joined(URIQuery, "", "&") }

func (m *Message) joined(id OptionID, lead, sep string) string {
	var b strings.Builder
	for _, o := range m.Options {
		if o.ID != id {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(lead)
		} else {
			b.WriteString(sep)
		}
		b.Write(o.Value)
	}
	if b.Len() == 0 {
		return lead
	}
	return b.String()
}

// SetPath replaces the Uri-Path options with the segments of p, split at
// "/" as RFC 7252 §6.4 does: a leading "/" is optional, "" and "/" are
// the root (no option), and other empty segments are kept ("/a/" is "a"
// and "").
func (m *Message) SetPath(p string) {
	m.RemoveOption(URIPath)
	if p == "" || p == "/" {
		return
	}
	for seg := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		m.AddOption(URIPath, []byte(seg))
	}
}

// AddQuery adds one Uri-Query option ("k=v").
func (m *Message) AddQuery(q string) { m.AddOption(URIQuery, []byte(q)) }

// Block is the value of a Block1 or Block2 option (RFC 7959 §2.2): the
// block number, whether more blocks follow, and the size exponent: a
// block holds 2^(SZX+4) bytes, 16 to 1024.
type Block struct {
	Num  uint32 // 0 to 2^20-1
	More bool
	SZX  uint8 // 0 to 6; 7 is reserved
}

// Size returns the block size in bytes, 2^(SZX+4).
func (b Block) Size() int { return 1 << (b.SZX + 4) }

// Block returns the first option id (Block1 or Block2) as a Block, and
// false when there is none or it does not parse (ParseBlock).
func (m *Message) Block(id OptionID) (Block, bool) {
	b, ok, err := blockOf(m, id)
	return b, ok && err == nil
}

// SetBlock replaces the options id (Block1 or Block2) with b.
func (m *Message) SetBlock(id OptionID, b Block) {
	m.RemoveOption(id)
	m.AddOption(id, appendBlock(nil, b))
}
