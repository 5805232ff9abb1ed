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
// inside JSON strings and text payloads.
type Token struct {
	Kind   TokenKind
	Device uint32 // fleet-wide device index, < 2^24
	Seq    uint32
	// Intended is the scheduled send time, from the start of the run, at
	// microsecond resolution (up to about 12 days).
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

// FindToken returns the first well-formed token in payload.
func FindToken(payload []byte) (Token, bool) {
	t, _, ok := findToken(payload)
	return t, ok
}

// findToken also returns the token's offset in payload.
func findToken(payload []byte) (Token, int, bool) {
	for off := 0; ; {
		i := bytes.Index(payload[off:], []byte(tokenMagic))
		if i < 0 || off+i+TokenLen > len(payload) {
			return Token{}, 0, false
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
	out[off+len(tokenMagic)] = byte(k)
	return out
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
