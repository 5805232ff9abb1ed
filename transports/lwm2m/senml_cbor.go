package lwm2m

import (
	"encoding/binary"
	"math"

	"github.com/fxamacker/cbor/v2"

	"github.com/m2msim/m2msim/transports/coap"
)

// SenML CBOR labels (RFC 8428 §6). LwM2M 1.1 adds vlo, which has no
// number and travels as the text key "vlo".
const (
	labelBN = -2
	labelN  = 0
	labelV  = 2
	labelVS = 3
	labelVB = 4
	labelT  = 6
	labelVD = 8
)

// appendSenMLCBOR writes records as a SenML CBOR array of maps, keys in
// the order bn, n, t, value (the order of the Core specification's
// example). The encoder is hand-written: SenML needs a handful of CBOR
// items, and writing them directly fixes the key order and costs no
// allocation; decoding, which must survive whatever a server sends, is
// left to fxamacker/cbor.
func appendSenMLCBOR(dst []byte, base Path, recs []Record) ([]byte, error) {
	hasBN, bnOnly := senmlNames(base, recs)
	dst = cborHead(dst, 4, uint64(len(recs)))
	var buf [32]byte // the longest name, "/65534/65534/65534/65534/", fits
	for _, r := range recs {
		if (r.Value.typ == TypeFloat && !finite(r.Value.Float())) || !finite(r.Time) {
			return dst, codeErr(coap.NotAcceptable, "senml cbor: %v is not finite", r.Path)
		}
	}
	for i, r := range recs {
		pairs := 0
		if i == 0 && hasBN {
			pairs++
		}
		if !bnOnly {
			pairs++
		}
		if r.Time != 0 {
			pairs++
		}
		if r.Value.typ != TypeNone {
			pairs++
		}
		dst = cborHead(dst, 5, uint64(pairs))
		if i == 0 && hasBN {
			dst = cborText(cborInt(dst, labelBN), appendSenMLBaseName(buf[:0], base, bnOnly))
		}
		if !bnOnly {
			dst = cborText(cborInt(dst, labelN), appendSenMLName(buf[:0], base, r.Path))
		}
		if r.Time != 0 {
			dst = cborNumber(cborInt(dst, labelT), r.Time)
		}
		dst = appendCBORValue(dst, r.Value)
	}
	return dst, nil
}

func appendCBORValue(b []byte, v Value) []byte {
	switch v.typ {
	case TypeInteger, TypeTime:
		return cborInt(cborInt(b, labelV), int64(v.n))
	case TypeUnsigned:
		return cborHead(cborInt(b, labelV), 0, v.n)
	case TypeFloat:
		return cborFloat(cborInt(b, labelV), v.Float())
	case TypeBoolean:
		if v.Bool() {
			return append(cborInt(b, labelVB), 0xf5)
		}
		return append(cborInt(b, labelVB), 0xf4)
	case TypeString, TypeCorelnk:
		return cborText(cborInt(b, labelVS), v.s)
	case TypeOpaque:
		return append(cborHead(cborInt(b, labelVD), 2, uint64(len(v.s))), v.s...)
	case TypeObjlnk:
		b = cborText(b, "vlo")
		var buf [12]byte
		return cborText(b, v.AppendText(buf[:0]))
	}
	return b
}

// cborHead appends an item head: major type and argument in the
// shortest form (RFC 8949 §3, preferred serialization).
func cborHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func cborInt(b []byte, n int64) []byte {
	if n >= 0 {
		return cborHead(b, 0, uint64(n))
	}
	return cborHead(b, 1, uint64(-1-n))
}

func cborText[S string | []byte](b []byte, s S) []byte {
	return append(cborHead(b, 3, uint64(len(s))), s...)
}

// cborFloat writes a float in 4 bytes when float32 holds it exactly,
// else in 8. Half precision would be shorter still, but not every
// constrained decoder reads it.
func cborFloat(b []byte, f float64) []byte {
	if float64(float32(f)) == f {
		return binary.BigEndian.AppendUint32(append(b, 0xfa), math.Float32bits(float32(f)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xfb), math.Float64bits(f))
}

// cborNumber writes a whole number as an integer, others as a float.
func cborNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return cborInt(b, int64(f))
	}
	return cborFloat(b, f)
}

// cborRecord is a SenML CBOR record as fxamacker/cbor decodes it;
// pointers tell absent keys from zero values.
type cborRecord struct {
	BN  *string  `cbor:"-2,keyasint"`
	BT  *float64 `cbor:"-3,keyasint"`
	N   *string  `cbor:"0,keyasint"`
	V   any      `cbor:"2,keyasint"`
	VS  *string  `cbor:"3,keyasint"`
	VB  *bool    `cbor:"4,keyasint"`
	T   *float64 `cbor:"6,keyasint"`
	VD  *[]byte  `cbor:"8,keyasint"`
	VLO *string  `cbor:"vlo"`
}

// senmlDecMode bounds what a payload can make the decoder do: no tags
// (SenML uses none), no duplicate keys, shallow nesting, and no more
// records than a CoAP payload can reasonably hold.
var senmlDecMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  4,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      64,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err) // the options are constant
	}
	return dm
}()

func decodeSenMLCBOR(target Path, payload []byte, types TypeFunc) ([]Record, error) {
	var in []cborRecord
	if err := senmlDecMode.Unmarshal(payload, &in); err != nil {
		return nil, badRequest("senml cbor: %v", err)
	}
	recs := make([]senmlRecord, len(in))
	for i := range in {
		if err := in[i].convert(&recs[i]); err != nil {
			return nil, err
		}
	}
	return resolveSenML(target, recs, types)
}

func (c *cborRecord) convert(r *senmlRecord) error {
	r.bn, r.n, r.bt, r.t, r.vs, r.vb, r.vd, r.vlo = c.BN, c.N, c.BT, c.T, c.VS, c.VB, c.VD, c.VLO
	if (r.bt != nil && !finite(*r.bt)) || (r.t != nil && !finite(*r.t)) {
		return badRequest("senml cbor: time is not finite")
	}
	if c.V != nil {
		n, err := cborNumberValue(c.V)
		if err != nil {
			return err
		}
		r.num = n
	}
	if values(c.V != nil, c.VS != nil, c.VB != nil, c.VD != nil, c.VLO != nil) > 1 {
		return badRequest("senml cbor: a record with more than one value")
	}
	return nil
}

func cborNumberValue(v any) (*senmlNumber, error) {
	switch n := v.(type) {
	case int64:
		return &senmlNumber{kind: 'i', i: n}, nil
	case uint64:
		if n <= math.MaxInt64 {
			return &senmlNumber{kind: 'i', i: int64(n)}, nil
		}
		return &senmlNumber{kind: 'u', u: n}, nil
	case float64:
		if !finite(n) {
			return nil, badRequest("senml cbor: v is not finite")
		}
		return &senmlNumber{kind: 'f', f: n}, nil
	}
	return nil, badRequest("senml cbor: v is a %T, not a number", v)
}
