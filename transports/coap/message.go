package coap

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Message is a CoAP message (RFC 7252 §3). Options are kept in the order
// they are encoded in, by number; options with the same number keep their
// order.
type Message struct {
	Type      Type
	Code      Code
	MessageID uint16
	Token     []byte // 0 to 8 bytes
	Options   []Option
	Payload   []byte
}

// Wire format constants (RFC 7252 §3).
const (
	version        = 1
	headerLen      = 4
	maxToken       = 8
	payloadMarker  = 0xff
	ext1           = 13  // a nibble of 13: one more byte, plus 13
	ext2           = 14  // a nibble of 14: two more bytes, plus 269
	ext2Base       = 269 // 13 + 256
	maxOptionValue = 0xffff + ext2Base
)

// Decode parses one datagram into m, reusing m's Options slice. m's
// Token, option values and Payload alias data: they are valid as long as
// data is. A malformed message returns a *FormatError (RFC 7252 calls it
// a message format error) and leaves m undefined.
//
// Decode accepts exactly the encodings AppendBinary produces: the header,
// option and length encodings of RFC 7252 are unique, so for any data
// Decode accepts, AppendBinary gives data back byte for byte.
func Decode(data []byte, m *Message) error {
	if len(data) < headerLen {
		return formatErr("%d bytes, shorter than the 4-byte header", len(data))
	}
	if v := data[0] >> 6; v != version {
		return formatErr("version %d", v)
	}
	tkl := int(data[0] & 0x0f)
	m.Type = Type(data[0] >> 4 & 3)
	m.Code = Code(data[1])
	m.MessageID = binary.BigEndian.Uint16(data[2:])
	if tkl > maxToken {
		return formatErr("token length %d", tkl)
	}
	if m.Code == Empty && (len(data) > headerLen || tkl != 0) {
		return formatErr("empty message (0.00) with %d bytes after the header", len(data)-headerLen)
	}
	rest := data[headerLen:]
	if len(rest) < tkl {
		return formatErr("token of %d bytes, %d left", tkl, len(rest))
	}
	m.Token, rest = rest[:tkl:tkl], rest[tkl:]
	m.Options, m.Payload = m.Options[:0], nil
	return m.decodeOptions(rest)
}

// decodeOptions parses the options and the payload that follow the token.
func (m *Message) decodeOptions(b []byte) error {
	id := 0
	for len(b) > 0 {
		if b[0] == payloadMarker {
			if len(b) == 1 {
				return formatErr("payload marker with no payload")
			}
			m.Payload = b[1:]
			return nil
		}
		delta, rest, err := extended(b[0]>>4, b[1:], "delta")
		if err != nil {
			return err
		}
		length, rest, err := extended(b[0]&0x0f, rest, "length")
		if err != nil {
			return err
		}
		if id += delta; id > 0xffff {
			return formatErr("option number %d", id)
		}
		if len(rest) < length {
			return formatErr("option %d: value of %d bytes, %d left", id, length, len(rest))
		}
		m.Options = append(m.Options, Option{ID: OptionID(id), Value: rest[:length:length]})
		b = rest[length:]
	}
	return nil
}

// extended decodes an option delta or length nibble and its extension
// bytes.
func extended(nib byte, b []byte, what string) (v int, rest []byte, err error) {
	switch nib {
	case ext1:
		if len(b) < 1 {
			return 0, nil, formatErr("option %s: missing extension byte", what)
		}
		return int(b[0]) + ext1, b[1:], nil
	case ext2:
		if len(b) < 2 {
			return 0, nil, formatErr("option %s: missing extension bytes", what)
		}
		return int(binary.BigEndian.Uint16(b)) + ext2Base, b[2:], nil
	case 15:
		return 0, nil, formatErr("option %s nibble 15", what)
	}
	return int(nib), b, nil
}

// MarshalBinary encodes m (see AppendBinary).
func (m *Message) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// AppendBinary appends m's encoding to b. Options are encoded by number,
// whatever their order in m (m is not changed). It fails with a
// *FormatError for what the wire cannot carry: a token over 8 bytes, an
// option value over 65,804 bytes, an empty message (0.00) with a token,
// options or a payload.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	if len(m.Token) > maxToken {
		return b, formatErr("token of %d bytes", len(m.Token))
	}
	if m.Type > Reset {
		return b, formatErr("type %d", m.Type)
	}
	if m.Code == Empty && (len(m.Token) > 0 || len(m.Options) > 0 || len(m.Payload) > 0) {
		return b, formatErr("empty message (0.00) with a token, options or payload")
	}
	b = append(b, version<<6|byte(m.Type)<<4|byte(len(m.Token)), byte(m.Code))
	b = binary.BigEndian.AppendUint16(b, m.MessageID)
	b = append(b, m.Token...)
	opts := m.Options
	if !slices.IsSortedFunc(opts, byID) {
		opts = slices.Clone(opts)
		slices.SortStableFunc(opts, byID)
	}
	prev := 0
	for _, o := range opts {
		if len(o.Value) > maxOptionValue {
			return b, formatErr("option %d: value of %d bytes", o.ID, len(o.Value))
		}
		b = appendOptionHeader(b, int(o.ID)-prev, len(o.Value))
		b = append(b, o.Value...)
		prev = int(o.ID)
	}
	if len(m.Payload) > 0 {
		b = append(b, payloadMarker)
		b = append(b, m.Payload...)
	}
	return b, nil
}

func byID(a, b Option) int { return int(a.ID) - int(b.ID) }

// appendOptionHeader appends the delta and length nibbles and their
// extensions.
func appendOptionHeader(b []byte, delta, length int) []byte {
	dn, dx, dl := nibble(delta)
	ln, lx, ll := nibble(length)
	b = append(b, dn<<4|ln)
	b = appendExt(b, dx, dl)
	return appendExt(b, lx, ll)
}

// nibble returns the 4-bit code for v and its extension value and size.
func nibble(v int) (nib byte, ext, size int) {
	switch {
	case v < ext1:
		return byte(v), 0, 0
	case v < ext2Base:
		return ext1, v - ext1, 1
	}
	return ext2, v - ext2Base, 2
}

func appendExt(b []byte, ext, size int) []byte {
	switch size {
	case 1:
		return append(b, byte(ext))
	case 2:
		return binary.BigEndian.AppendUint16(b, uint16(ext))
	}
	return b
}

// Clone returns a deep copy of m that aliases nothing.
func (m *Message) Clone() *Message {
	c := &Message{Type: m.Type, Code: m.Code, MessageID: m.MessageID,
		Token: slices.Clone(m.Token), Payload: slices.Clone(m.Payload)}
	if len(m.Options) > 0 {
		c.Options = make([]Option, len(m.Options))
		for i, o := range m.Options {
			c.Options[i] = Option{ID: o.ID, Value: slices.Clone(o.Value)}
		}
	}
	return c
}

// String describes m for logs and test failures, as in
// "CON 0.01 mid=7d34 token=0a0b /temperature 6 bytes".
func (m *Message) String() string {
	var b strings.Builder
	b.WriteString(m.Type.String())
	b.WriteString(" " + m.Code.String() + " mid=" + strconv.FormatUint(uint64(m.MessageID), 16))
	if len(m.Token) > 0 {
		b.WriteString(" token=" + hex.EncodeToString(m.Token))
	}
	if _, ok := m.Option(URIPath); ok {
		b.WriteString(" " + m.Path())
	}
	for _, o := range m.Options {
		if o.ID != URIPath {
			b.WriteString(" opt" + strconv.Itoa(int(o.ID)) + "=" + hex.EncodeToString(o.Value))
		}
	}
	if len(m.Payload) > 0 {
		b.WriteString(" " + strconv.Itoa(len(m.Payload)) + " bytes")
	}
	return b.String()
}
