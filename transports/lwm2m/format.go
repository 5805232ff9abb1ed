package lwm2m

import (
	"slices"
	"strconv"

	"github.com/m2msim/m2msim/transports/coap"
)

// Format is a content format: the value of the CoAP Content-Format and
// Accept options (IANA CoAP Content-Formats registry).
type Format uint16

// The content formats a device speaks. LwM2M CBOR (11544) and the OMA
// JSON of LwM2M 1.0 (11543) are not implemented.
const (
	FormatText      Format = coap.TextPlain   // 0: one resource value as text
	FormatLink      Format = coap.LinkFormat  // 40: RFC 6690, Register and Discover
	FormatOpaque    Format = coap.OctetStream // 42: one Opaque resource's bytes
	FormatSenMLJSON Format = coap.SenMLJSON   // 110: RFC 8428 JSON
	FormatSenMLCBOR Format = coap.SenMLCBOR   // 112: RFC 8428 CBOR
	FormatTLV       Format = coap.LwM2MTLV    // 11542: OMA TLV
)

// String returns the media type.
func (f Format) String() string {
	switch f {
	case FormatText:
		return "text/plain"
	case FormatLink:
		return "application/link-format"
	case FormatOpaque:
		return "application/octet-stream"
	case FormatSenMLJSON:
		return "application/senml+json"
	case FormatSenMLCBOR:
		return "application/senml+cbor"
	case FormatTLV:
		return "application/vnd.oma.lwm2m+tlv"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Record is one resource (or resource instance) value at its path: the
// unit all formats encode and decode. A multi-instance resource is one
// record per instance, at depth 4.
type Record struct {
	Path  Path
	Value Value
	// Time is the SenML time of the value (bt + t, RFC 8428 §4.5.3) in
	// seconds: since the Unix epoch, or relative to now when below 2^28.
	// 0 means none; formats other than SenML drop it.
	Time float64
}

// TypeFunc tells a decoder the type of the resource at a path (depth 3
// or 4), for the formats whose bytes do not say: TLV carries no types at
// all, SenML one number for Integer, Unsigned, Float and Time. false
// means unknown: the decoder then keeps what the wire says (TLV bytes as
// Opaque, a SenML number as Integer when whole, else Float).
type TypeFunc func(Path) (Type, bool)

// Encode appends to dst the records as the answer to a request on base
// in format f. Every record must lie under base. TLV nests them relative
// to base (object instances under an object, resource instances under a
// multi-instance resource); SenML names them from base (bn, n); text and
// opaque carry exactly one value. Records that repeat a path, or a
// resource and its own instances, and a format that cannot carry the
// records return an *Error with code 4.06 (4.15 for an unknown format).
func Encode(dst []byte, f Format, base Path, recs []Record) ([]byte, error) {
	for _, r := range recs {
		if !r.Path.Under(base) || r.Path.Depth() < 3 {
			return dst, codeErr(coap.NotAcceptable, "record %v is not a resource under %v", r.Path, base)
		}
	}
	if !slices.IsSortedFunc(recs, byPath) {
		recs = slices.Clone(recs)
		slices.SortStableFunc(recs, byPath)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Path.Under(recs[i-1].Path) {
			return dst, codeErr(coap.NotAcceptable, "record %v repeats %v or lies under it", recs[i].Path, recs[i-1].Path)
		}
	}
	switch f {
	case FormatTLV:
		return appendTLV(dst, base, recs)
	case FormatSenMLJSON:
		return appendSenMLJSON(dst, base, recs)
	case FormatSenMLCBOR:
		return appendSenMLCBOR(dst, base, recs)
	case FormatText, FormatOpaque:
		return appendSingle(dst, f, base, recs)
	}
	return dst, codeErr(coap.UnsupportedContentFormat, "cannot encode %v", f)
}

// Decode decodes a payload sent to base (a Write, Create or Execute
// target) in format f. types resolves the types the bytes do not carry;
// nil resolves nothing. Errors are *Error: 4.00 for a malformed payload
// or a value of the wrong type, 4.15 for a format not supported.
func Decode(f Format, base Path, payload []byte, types TypeFunc) ([]Record, error) {
	if types == nil {
		types = func(Path) (Type, bool) { return TypeNone, false }
	}
	switch f {
	case FormatTLV:
		return decodeTLV(base, payload, types)
	case FormatSenMLJSON:
		return decodeSenMLJSON(base, payload, types)
	case FormatSenMLCBOR:
		return decodeSenMLCBOR(base, payload, types)
	case FormatText, FormatOpaque:
		return decodeSingle(f, base, payload, types)
	}
	return nil, codeErr(coap.UnsupportedContentFormat, "cannot decode %v", f)
}

func byPath(a, b Record) int { return a.Path.Compare(b.Path) }

// appendSingle writes the one value text/plain or opaque carries.
func appendSingle(dst []byte, f Format, base Path, recs []Record) ([]byte, error) {
	if len(recs) != 1 || recs[0].Path != base {
		return dst, codeErr(coap.NotAcceptable, "%v carries one resource value, not %d under %v", f, len(recs), base)
	}
	v := recs[0].Value
	if f == FormatOpaque {
		if v.Type() != TypeOpaque {
			return dst, codeErr(coap.NotAcceptable, "%v carries Opaque values, not %v", f, v.Type())
		}
		return append(dst, v.s...), nil
	}
	return v.AppendText(dst), nil
}

func decodeSingle(f Format, base Path, payload []byte, types TypeFunc) ([]Record, error) {
	if base.Depth() < 3 {
		return nil, badRequest("%v carries one resource value, %v is not a resource", f, base)
	}
	t, ok := types(base)
	if f == FormatOpaque {
		if ok && t != TypeOpaque {
			return nil, codeErr(coap.UnsupportedContentFormat, "%v is %v, not Opaque", base, t)
		}
		return []Record{{Path: base, Value: Opaque(payload)}}, nil
	}
	if !ok {
		t = TypeString
	}
	v, err := ParseText(t, string(payload))
	if err != nil {
		return nil, err
	}
	return []Record{{Path: base, Value: v}}, nil
}
