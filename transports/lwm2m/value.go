package lwm2m

import (
	"encoding/base64"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Type is a resource's data type (Core Appendix C).
type Type uint8

// The data types of LwM2M 1.1. TypeNone is the type of executable
// resources, which hold no value.
const (
	TypeNone Type = iota
	TypeString
	TypeInteger
	TypeUnsigned
	TypeFloat
	TypeBoolean
	TypeOpaque
	TypeTime
	TypeObjlnk
	TypeCorelnk
)

var typeNames = [...]string{"none", "String", "Integer", "Unsigned Integer", "Float",
	"Boolean", "Opaque", "Time", "Objlnk", "Corelnk"}

// String returns the type's name as the specification writes it.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Numeric reports whether values of the type are numbers, the only ones
// that the gt, lt and st attributes apply to.
func (t Type) Numeric() bool {
	return t == TypeInteger || t == TypeUnsigned || t == TypeFloat || t == TypeTime
}

// Value is one resource value with its type. The zero Value has
// TypeNone. Values are immutable and comparable with == (floats by bit
// pattern).
type Value struct {
	typ Type
	n   uint64 // Integer and Time (two's complement), Unsigned, Float bits, Boolean, Objlnk
	s   string // String, Corelnk, Opaque bytes
}

// Int returns an Integer value.
func Int(v int64) Value { return Value{typ: TypeInteger, n: uint64(v)} }

// Uint returns an Unsigned Integer value.
func Uint(v uint64) Value { return Value{typ: TypeUnsigned, n: v} }

// Float returns a Float value.
func Float(v float64) Value { return Value{typ: TypeFloat, n: math.Float64bits(v)} }

// Bool returns a Boolean value.
func Bool(v bool) Value {
	if v {
		return Value{typ: TypeBoolean, n: 1}
	}
	return Value{typ: TypeBoolean}
}

// String returns a String value.
func String(v string) Value { return Value{typ: TypeString, s: v} }

// Opaque returns an Opaque value holding a copy of b.
func Opaque(b []byte) Value { return Value{typ: TypeOpaque, s: string(b)} }

// Time returns a Time value: t in whole seconds since the Unix epoch.
func Time(t time.Time) Value { return UnixTime(t.Unix()) }

// UnixTime returns a Time value of sec seconds since the Unix epoch.
func UnixTime(sec int64) Value { return Value{typ: TypeTime, n: uint64(sec)} }

// Objlnk returns an Objlnk value pointing at object instance /o/i;
// 65535:65535 is the null link.
func Objlnk(o, i uint16) Value { return Value{typ: TypeObjlnk, n: uint64(o)<<16 | uint64(i)} }

// Corelnk returns a Corelnk value: CoRE link format text (RFC 6690).
func Corelnk(v string) Value { return Value{typ: TypeCorelnk, s: v} }

// Type returns the value's type.
func (v Value) Type() Type { return v.typ }

// Int returns an Integer or Time value, an Unsigned one converted
// (wrapping above MaxInt64), a Float truncated, a Boolean as 0 or 1, and
// 0 for the others.
func (v Value) Int() int64 {
	switch v.typ {
	case TypeFloat:
		return int64(v.Float())
	case TypeInteger, TypeTime, TypeUnsigned, TypeBoolean:
		return int64(v.n)
	}
	return 0
}

// Uint returns an Unsigned value, and the others as Int converts them.
func (v Value) Uint() uint64 {
	if v.typ == TypeUnsigned {
		return v.n
	}
	return uint64(v.Int())
}

// Float returns a Float value, a numeric one converted, and 0 for the
// others.
func (v Value) Float() float64 {
	f, _ := v.Number()
	return f
}

// Number returns a numeric value as a float64, and false for the types
// that are not numeric.
func (v Value) Number() (float64, bool) {
	switch v.typ {
	case TypeFloat:
		return math.Float64frombits(v.n), true
	case TypeInteger, TypeTime:
		return float64(int64(v.n)), true
	case TypeUnsigned:
		return float64(v.n), true
	}
	return 0, false
}

// Bool returns a Boolean value, false for the others.
func (v Value) Bool() bool { return v.typ == TypeBoolean && v.n != 0 }

// Str returns a String or Corelnk value, the bytes of an Opaque one, and
// "" for the others.
func (v Value) Str() string { return v.s }

// Bytes returns a copy of an Opaque value's bytes (of the text of a
// String or Corelnk one).
func (v Value) Bytes() []byte { return []byte(v.s) }

// Time returns a Time value as a time.Time (UTC).
func (v Value) Time() time.Time { return time.Unix(v.Int(), 0).UTC() }

// Objlnk returns an Objlnk value's object and instance ids.
func (v Value) Objlnk() (o, i uint16) { return uint16(v.n >> 16), uint16(v.n) }

// String returns the value as text/plain carries it (Core §7.4.1).
func (v Value) String() string { return string(v.AppendText(nil)) }

// AppendText appends the value as text/plain carries it: numbers in
// decimal, Booleans as "0" or "1", Time as seconds, Objlnk as "o:i",
// Opaque in base64.
func (v Value) AppendText(b []byte) []byte {
	switch v.typ {
	case TypeString, TypeCorelnk:
		return append(b, v.s...)
	case TypeInteger, TypeTime:
		return strconv.AppendInt(b, int64(v.n), 10)
	case TypeUnsigned, TypeBoolean:
		return strconv.AppendUint(b, v.n, 10)
	case TypeFloat:
		return strconv.AppendFloat(b, math.Float64frombits(v.n), 'g', -1, 64)
	case TypeObjlnk:
		o, i := v.Objlnk()
		return strconv.AppendUint(append(strconv.AppendUint(b, uint64(o), 10), ':'), uint64(i), 10)
	case TypeOpaque:
		return base64.StdEncoding.AppendEncode(b, []byte(v.s))
	}
	return b
}

// ParseText parses text/plain content as a value of type t, the inverse
// of AppendText. Errors are *Error with code 4.00.
func ParseText(t Type, text string) (Value, error) {
	switch t {
	case TypeString, TypeCorelnk:
		if !utf8.ValidString(text) {
			return Value{}, badRequest("%s is not UTF-8", t)
		}
		return Value{typ: t, s: text}, nil
	case TypeInteger, TypeTime:
		n, err := strconv.ParseInt(text, 10, 64)
		return Value{typ: t, n: uint64(n)}, numErr(err, t, text)
	case TypeUnsigned:
		n, err := strconv.ParseUint(text, 10, 64)
		return Uint(n), numErr(err, t, text)
	case TypeFloat:
		f, err := strconv.ParseFloat(text, 64)
		return Float(f), numErr(err, t, text)
	case TypeBoolean:
		return parseBool(text)
	case TypeObjlnk:
		return parseObjlnk(text)
	case TypeOpaque:
		b, err := base64.StdEncoding.DecodeString(text)
		return Opaque(b), numErr(err, t, text)
	}
	return Value{}, badRequest("no text form for type %s", t)
}

func numErr(err error, t Type, text string) error {
	if err != nil {
		return badRequest("%q is not a valid %s", clip(text), t)
	}
	return nil
}

func parseBool(text string) (Value, error) {
	switch text {
	case "0":
		return Bool(false), nil
	case "1":
		return Bool(true), nil
	}
	return Value{}, badRequest("%q is not a Boolean (0 or 1)", clip(text))
}

func parseObjlnk(text string) (Value, error) {
	for i := 0; i < len(text); i++ {
		if text[i] == ':' {
			o, err1 := strconv.ParseUint(text[:i], 10, 16)
			n, err2 := strconv.ParseUint(text[i+1:], 10, 16)
			if err1 == nil && err2 == nil {
				return Objlnk(uint16(o), uint16(n)), nil
			}
			break
		}
	}
	return Value{}, badRequest("%q is not an Objlnk (object:instance)", clip(text))
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
