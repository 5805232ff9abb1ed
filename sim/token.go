package sim

import (
	"bytes"
	"time"
)

// TokenKind says which flow a Token belongs to.
type TokenKind byte

// Token kinds, as they appear on the wire.
const (
	TokenTelemetry TokenKind = 't' // device -> backend report
	TokenCommand   TokenKind = 'c' // backend -> device command
	TokenReply     TokenKind = 'r' // device -> backend reply to a command
	TokenRequest   TokenKind = 'q' // device -> backend request
	TokenAnswer    TokenKind = 'a' // backend -> device answer to a request
)

func (k TokenKind) valid() bool {
	switch k {
	case TokenTelemetry, TokenCommand, TokenReply, TokenRequest, TokenAnswer:
		return true
	}
	return false
}

// TokenLen is the encoded size of a Token in bytes.
const TokenLen = 3 + 1 + 6 + 8 + 10

const tokenMagic = "m2m"

// Token is the measurement mark carried in every payload m2msim sends: it
// names the device, the message and its intended send time, so whoever
// receives it can time the message without shared state and tell
// duplicates apart. It is ASCII ("m2m", a kind letter and 24 hex digits), so it fits
// inside JSON strings and text payloads. A short token (AppendShort) is 8
// ASCII bytes without the time, for radios with tiny payloads.
type Token struct {
	Kind   TokenKind
	Device uint32 // fleet-wide device index, < 2^24
	Seq    uint32
	// Intended is the scheduled send time, from the start of the run, at
	// microsecond resolution (up to about 12 days); -1 in a decoded short
	// token, which does not carry it.
	Intended time.Duration
}

const hexDigits = "0123456789abcdef"

func appendHex(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// Append encodes t onto dst.
func (t Token) Append(dst []byte) []byte {
	dst = append(dst, tokenMagic...)
	dst = append(dst, byte(t.Kind))
	dst = appendHex(dst, uint64(t.Device), 6)
	dst = appendHex(dst, uint64(t.Seq), 8)
	return appendHex(dst, uint64(max(0, t.Intended)/time.Microsecond), 10)
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// FindToken returns the first well-formed token in payload, or failing
// that the first short one.
func FindToken(payload []byte) (Token, bool) {
	t, _, ok := findToken(payload)
	return t, ok
}

// findToken also returns the token's offset in payload.
func findToken(payload []byte) (Token, int, bool) {
	for off := 0; ; {
		i := bytes.Index(payload[off:], []byte(tokenMagic))
		if i < 0 || off+i+TokenLen > len(payload) {
			return findShort(payload)
		}
		if t, ok := decodeToken(payload[off+i : off+i+TokenLen]); ok {
			return t, off + i, true
		}
		off += i + 1
	}
}

// rekind returns a copy of payload whose token at off has kind k: a reply
// echoes what it answers under its own kind.
func rekind(payload []byte, off int, k TokenKind) []byte {
	out := append([]byte(nil), payload...)
	if out[off] == shortMagic {
		t, _ := decodeShort(out[off : off+ShortTokenLen])
		t.Kind = k
		t.AppendShort(out[off:off])
		return out
	}
	out[off+len(tokenMagic)] = byte(k)
	return out
}

// ShortTokenLen is the encoded size of a short token.
const ShortTokenLen = 8

// A short token is '~' and 7 base64url digits holding 42 bits: the kind
// (3 bits, its index in shortKinds), the device (21 bits) and the
// sequence number's low 18 bits. It fits radios whose payloads are too
// small for a Token (Sigfox: 12 B up, 8 B down) and carries no time: the
// engine keeps the intended times of the messages it marks this way.
const (
	shortMagic   = '~'
	shortDigits  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	shortDevBits = 21
	shortSeqBits = 18
	// ShortMaxDevices is how many devices short tokens can tell apart.
	ShortMaxDevices = 1 << shortDevBits
	shortSeqMask    = 1<<shortSeqBits - 1
)

var shortKinds = [...]TokenKind{TokenTelemetry, TokenCommand, TokenReply, TokenRequest, TokenAnswer}

// shortValue maps a base64url digit to its value, -1 for other bytes.
var shortValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := range len(shortDigits) {
		v[shortDigits[i]] = int8(i)
	}
	return v
}()

// AppendShort encodes t as a short token onto dst: its kind, its device
// (below ShortMaxDevices) and the low 18 bits of its Seq. Intended is not
// carried.
func (t Token) AppendShort(dst []byte) []byte {
	k := 0
	for i, sk := range shortKinds {
		if sk == t.Kind {
			k = i
		}
	}
	v := uint64(k)<<(shortDevBits+shortSeqBits) | uint64(t.Device%ShortMaxDevices)<<shortSeqBits | uint64(t.Seq&shortSeqMask)
	dst = append(dst, shortMagic)
	for i := 6; i >= 0; i-- {
		dst = append(dst, shortDigits[v>>(6*i)&63])
	}
	return dst
}

// decodeShort decodes a short token; its Intended is -1, unknown.
func decodeShort(b []byte) (Token, bool) {
	if len(b) < ShortTokenLen || b[0] != shortMagic {
		return Token{}, false
	}
	var v uint64
	for _, c := range b[1:ShortTokenLen] {
		d := shortValue[c]
		if d < 0 {
			return Token{}, false
		}
		v = v<<6 | uint64(d)
	}
	k := v >> (shortDevBits + shortSeqBits)
	if k >= uint64(len(shortKinds)) {
		return Token{}, false
	}
	return Token{Kind: shortKinds[k], Device: uint32(v >> shortSeqBits % ShortMaxDevices), Seq: uint32(v & shortSeqMask),
		Intended: -1}, true
}

// findShort returns the first short token in payload.
func findShort(payload []byte) (Token, int, bool) {
	for off := 0; off+ShortTokenLen <= len(payload); off++ {
		i := bytes.IndexByte(payload[off:len(payload)-ShortTokenLen+1], shortMagic)
		if i < 0 {
			break
		}
		off += i
		if t, ok := decodeShort(payload[off:]); ok {
			return t, off, true
		}
	}
	return Token{}, 0, false
}

func decodeToken(b []byte) (Token, bool) {
	k := TokenKind(b[3])
	if !k.valid() {
		return Token{}, false
	}
	dev, ok1 := parseHex(b[4:10])
	seq, ok2 := parseHex(b[10:18])
	us, ok3 := parseHex(b[18:28])
	if !ok1 || !ok2 || !ok3 {
		return Token{}, false
	}
	return Token{Kind: k, Device: uint32(dev), Seq: uint32(seq), Intended: time.Duration(us) * time.Microsecond}, true
}
