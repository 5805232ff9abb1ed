package lwm2m

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
)

// SenML in LwM2M (Core §7.4.4, RFC 8428): each record names its resource
// by base name plus name, bn + n, which must form a path; bt + t is its
// time; the value key says what kind of value it is: v a number
// (Integer, Unsigned, Float, Time), vs a string (String, Corelnk), vb a
// Boolean, vd bytes (Opaque, base64url without padding in JSON), vlo an
// Objlnk "o:i". A record without a value names a path only (the
// composite operations).

// senmlNames says how the answer to a request on base names its
// records: on the root (a composite answer) by whole paths in n, with no
// bn; one resource by its path as bn alone (bnOnly); otherwise by bn,
// base with a trailing slash, and each n the rest of the path ("6/0"
// under "/3/0/").
func senmlNames(base Path, recs []Record) (hasBN, bnOnly bool) {
	switch {
	case base.Depth() == 0:
		return false, false
	case len(recs) == 1 && recs[0].Path == base:
		return true, true
	}
	return true, false
}

// appendSenMLBaseName appends the bn senmlNames chose.
func appendSenMLBaseName(b []byte, base Path, bnOnly bool) []byte {
	b = base.AppendText(b)
	if !bnOnly {
		b = append(b, '/')
	}
	return b
}

// appendSenMLName appends the n of p: the whole path on the root, else
// the ids below base.
func appendSenMLName(b []byte, base, p Path) []byte {
	if base.Depth() == 0 {
		return p.AppendText(b)
	}
	for l := base.Depth(); l < p.Depth(); l++ {
		if l > base.Depth() {
			b = append(b, '/')
		}
		b = strconv.AppendUint(b, uint64(p.ID(l)), 10)
	}
	return b
}

// senmlNumber is a number as the wire carried it: one of int64, uint64
// (above MaxInt64 only) or float64.
type senmlNumber struct {
	kind byte // 'i', 'u' or 'f'
	i    int64
	u    uint64
	f    float64
}

// senmlRecord is one record as decoded, before names and types are
// resolved. Exactly one of the value fields is set, or none.
type senmlRecord struct {
	bn, n    *string
	bt, t    *float64
	num      *senmlNumber
	vs, vlo  *string
	vb       *bool
	vd       *[]byte
	vdBase64 *string // JSON carries vd as base64url text
}

// senmlResolver turns decoded records into Records: it applies base
// name and base time, parses names as paths under the target and gives
// each value the type of its resource.
type senmlResolver struct {
	target Path
	types  TypeFunc
	bn     string
	bt     float64
}

func resolveSenML(target Path, in []senmlRecord, types TypeFunc) ([]Record, error) {
	r := senmlResolver{target: target, types: types}
	out := make([]Record, 0, len(in))
	for i := range in {
		rec, err := r.record(&in[i])
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func (r *senmlResolver) record(in *senmlRecord) (Record, error) {
	if in.bn != nil {
		r.bn = *in.bn
	}
	if in.bt != nil {
		r.bt = *in.bt
	}
	name := r.bn
	if in.n != nil {
		name += *in.n
	}
	p, err := ParsePath(name)
	if err != nil {
		return Record{}, badRequest("senml: name %q is not a path", clip(name))
	}
	if p.Depth() < 3 || !p.Under(r.target) {
		return Record{}, badRequest("senml: %v is not a resource under %v", p, r.target)
	}
	v, err := r.value(p, in)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Path: p, Value: v, Time: r.bt}
	if in.t != nil {
		rec.Time += *in.t
	}
	return rec, nil
}

// value types the record's value by its resource, or by its key when the
// resource is unknown.
func (r *senmlResolver) value(p Path, in *senmlRecord) (Value, error) {
	t, known := r.types(p)
	var v Value
	var err error
	switch {
	case in.num != nil:
		v, err = in.num.value(t, known)
	case in.vs != nil:
		v, err = textValue(TypeString, TypeCorelnk, t, known, *in.vs)
	case in.vb != nil:
		v, err = Bool(*in.vb), nil
	case in.vd != nil:
		v, err = Opaque(*in.vd), nil
	case in.vdBase64 != nil:
		v, err = decodeVD(*in.vdBase64)
	case in.vlo != nil:
		v, err = parseObjlnk(*in.vlo)
	default:
		return Value{}, nil
	}
	if err != nil {
		return Value{}, badRequest("senml: %v: %v", p, err)
	}
	if known && v.Type() != t {
		return Value{}, badRequest("senml: %v is %v, the record carries %v", p, t, v.Type())
	}
	return v, nil
}

// textValue types a vs: as want when the resource is one of the two
// string types, else as def.
func textValue(def, alt, want Type, known bool, s string) (Value, error) {
	if known && want == alt {
		def = alt
	}
	return ParseText(def, s)
}

func decodeVD(s string) (Value, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return Value{}, badRequest("vd is not base64url")
	}
	return Opaque(b), nil
}

// value converts a wire number to type t (to the type the number says
// when the resource is unknown). Whole floats convert to integers: JSON
// does not tell 5 from 5.0.
func (n *senmlNumber) value(t Type, known bool) (Value, error) {
	if !known {
		return n.untyped(), nil
	}
	switch t {
	case TypeFloat:
		return Float(n.float()), nil
	case TypeInteger, TypeTime:
		i, ok := n.int()
		if !ok {
			return Value{}, badRequest("%s out of range for %v", n, t)
		}
		return Value{typ: t, n: uint64(i)}, nil
	case TypeUnsigned:
		u, ok := n.uint()
		if !ok {
			return Value{}, badRequest("%s out of range for %v", n, t)
		}
		return Uint(u), nil
	}
	return Value{}, badRequest("a number for a %v resource", t)
}

func (n *senmlNumber) untyped() Value {
	switch n.kind {
	case 'i':
		return Int(n.i)
	case 'u':
		return Uint(n.u)
	}
	return Float(n.f)
}

func (n *senmlNumber) float() float64 {
	switch n.kind {
	case 'i':
		return float64(n.i)
	case 'u':
		return float64(n.u)
	}
	return n.f
}

func (n *senmlNumber) int() (int64, bool) {
	switch n.kind {
	case 'i':
		return n.i, true
	case 'u':
		return 0, false
	}
	ok := n.f == math.Trunc(n.f) && n.f >= math.MinInt64 && n.f < math.MaxInt64
	return int64(n.f), ok
}

func (n *senmlNumber) uint() (uint64, bool) {
	switch n.kind {
	case 'i':
		return uint64(n.i), n.i >= 0
	case 'u':
		return n.u, true
	}
	ok := n.f == math.Trunc(n.f) && n.f >= 0 && n.f < math.MaxUint64
	return uint64(n.f), ok
}

// String writes the number for an error message.
func (n *senmlNumber) String() string {
	switch n.kind {
	case 'i':
		return strconv.FormatInt(n.i, 10)
	case 'u':
		return strconv.FormatUint(n.u, 10)
	}
	return strconv.FormatFloat(n.f, 'g', -1, 64)
}
