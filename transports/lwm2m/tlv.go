package lwm2m

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/m2msim/m2msim/transports/coap"
)

// The kinds of TLV, bits 7-6 of the type byte (Core §7.4.3).
const (
	tlvObjectInstance   byte = 0x00
	tlvResourceInstance byte = 0x40
	tlvMultipleResource byte = 0x80
	tlvResource         byte = 0xc0
)

// tlvMaxLen is the largest value a 24-bit length field can announce.
const tlvMaxLen = 1<<24 - 1

// appendTLVHeader appends a type byte, a 8- or 16-bit identifier and a
// length folded into the type byte (up to 7) or in a field of 8, 16 or
// 24 bits: always the shortest form.
func appendTLVHeader(b []byte, kind byte, id uint16, n int) []byte {
	t := kind
	if id > 0xff {
		t |= 0x20
	}
	switch {
	case n <= 7:
		t |= byte(n)
	case n <= 0xff:
		t |= 0x08
	case n <= 0xffff:
		t |= 0x10
	default:
		t |= 0x18
	}
	b = append(b, t)
	if id > 0xff {
		b = append(b, byte(id>>8))
	}
	b = append(b, byte(id))
	switch {
	case n <= 7:
	case n <= 0xff:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, byte(n>>8), byte(n))
	default:
		b = append(b, byte(n>>16), byte(n>>8), byte(n))
	}
	return b
}

// tlvLen is the size of a whole TLV with identifier id and n value bytes.
func tlvLen(id uint16, n int) int {
	h := 2
	if id > 0xff {
		h++
	}
	switch {
	case n > 0xffff:
		h += 3
	case n > 0xff:
		h += 2
	case n > 7:
		h++
	}
	return h + n
}

// tlvValueLen is the size of v's bytes in TLV: integers in the fewest of
// 1, 2, 4 or 8 bytes, a float in 4 bytes when float32 holds it exactly.
func tlvValueLen(v Value) int {
	switch v.typ {
	case TypeInteger, TypeTime:
		n := int64(v.n)
		switch {
		case n == int64(int8(n)):
			return 1
		case n == int64(int16(n)):
			return 2
		case n == int64(int32(n)):
			return 4
		}
		return 8
	case TypeUnsigned:
		switch {
		case v.n <= math.MaxUint8:
			return 1
		case v.n <= math.MaxUint16:
			return 2
		case v.n <= math.MaxUint32:
			return 4
		}
		return 8
	case TypeFloat:
		f := math.Float64frombits(v.n)
		if float64(float32(f)) == f {
			return 4
		}
		return 8
	case TypeBoolean:
		return 1
	case TypeObjlnk:
		return 4
	}
	return len(v.s)
}

func appendTLVValue(b []byte, v Value) []byte {
	switch v.typ {
	case TypeInteger, TypeTime, TypeUnsigned, TypeBoolean:
		n := tlvValueLen(v)
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], v.n)
		return append(b, buf[8-n:]...)
	case TypeFloat:
		if tlvValueLen(v) == 4 {
			return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(math.Float64frombits(v.n))))
		}
		return binary.BigEndian.AppendUint64(b, v.n)
	case TypeObjlnk:
		return binary.BigEndian.AppendUint32(b, uint32(v.n))
	}
	return append(b, v.s...)
}

func appendTLVEntry(b []byte, kind byte, id uint16, v Value) []byte {
	return appendTLVValue(appendTLVHeader(b, kind, id, tlvValueLen(v)), v)
}

func appendTLV(dst []byte, base Path, recs []Record) ([]byte, error) {
	for _, r := range recs {
		if tlvValueLen(r.Value) > tlvMaxLen {
			return dst, codeErr(coap.NotAcceptable, "tlv: value of %v over 16 MiB", r.Path)
		}
	}
	switch base.Depth() {
	case 0:
		return dst, codeErr(coap.NotAcceptable, "tlv cannot carry several objects")
	case 1:
		return appendTLVInstances(dst, recs)
	case 4:
		for _, r := range recs {
			dst = appendTLVEntry(dst, tlvResourceInstance, r.Path.ResourceInstance(), r.Value)
		}
		return dst, nil
	}
	return appendTLVResources(dst, recs)
}

// run returns how many records from the first share its id at level.
func run(recs []Record, level int) int {
	n := 1
	for n < len(recs) && recs[n].Path.ID(level) == recs[0].Path.ID(level) {
		n++
	}
	return n
}

func appendTLVInstances(dst []byte, recs []Record) ([]byte, error) {
	for len(recs) > 0 {
		n := run(recs, 1)
		size := tlvResourcesLen(recs[:n])
		if size > tlvMaxLen {
			return dst, codeErr(coap.NotAcceptable, "tlv: instance %v over 16 MiB", recs[0].Path.Truncate(2))
		}
		dst = appendTLVHeader(dst, tlvObjectInstance, recs[0].Path.Instance(), size)
		dst, _ = appendTLVResources(dst, recs[:n])
		recs = recs[n:]
	}
	return dst, nil
}

// tlvResourcesLen is the size of the resources in recs, all of one
// object instance.
func tlvResourcesLen(recs []Record) int {
	size := 0
	for len(recs) > 0 {
		n := run(recs, 2)
		if recs[0].Path.Depth() == 3 {
			size += tlvLen(recs[0].Path.Resource(), tlvValueLen(recs[0].Value))
		} else {
			size += tlvLen(recs[0].Path.Resource(), tlvInstancesLen(recs[:n]))
		}
		recs = recs[n:]
	}
	return size
}

func tlvInstancesLen(recs []Record) int {
	size := 0
	for _, r := range recs {
		size += tlvLen(r.Path.ResourceInstance(), tlvValueLen(r.Value))
	}
	return size
}

func appendTLVResources(dst []byte, recs []Record) ([]byte, error) {
	for len(recs) > 0 {
		n := run(recs, 2)
		r := recs[0]
		if r.Path.Depth() == 3 {
			dst = appendTLVEntry(dst, tlvResource, r.Path.Resource(), r.Value)
		} else {
			size := tlvInstancesLen(recs[:n])
			if size > tlvMaxLen {
				return dst, codeErr(coap.NotAcceptable, "tlv: resource %v over 16 MiB", r.Path.Parent())
			}
			dst = appendTLVHeader(dst, tlvMultipleResource, r.Path.Resource(), size)
			for _, ri := range recs[:n] {
				dst = appendTLVEntry(dst, tlvResourceInstance, ri.Path.ResourceInstance(), ri.Value)
			}
		}
		recs = recs[n:]
	}
	return dst, nil
}

// tlv is one decoded TLV: its kind, identifier and value bytes.
type tlv struct {
	kind  byte
	id    uint16
	value []byte
}

// readTLV splits the first TLV off b. It accepts every length form the
// format allows, not only the shortest.
func readTLV(b []byte) (t tlv, rest []byte, err error) {
	if len(b) < 2 {
		return t, nil, badRequest("tlv: truncated header")
	}
	typ := b[0]
	t.kind = typ & 0xc0
	i := 2
	t.id = uint16(b[1])
	if typ&0x20 != 0 {
		if len(b) < 3 {
			return t, nil, badRequest("tlv: truncated identifier")
		}
		t.id = t.id<<8 | uint16(b[2])
		i = 3
	}
	n := int(typ & 0x07)
	if lf := int(typ>>3) & 0x03; lf > 0 {
		if len(b) < i+lf {
			return t, nil, badRequest("tlv: truncated length")
		}
		n = 0
		for _, c := range b[i : i+lf] {
			n = n<<8 | int(c)
		}
		i += lf
	}
	if len(b)-i < n {
		return t, nil, badRequest("tlv: value of %d bytes, %d left", n, len(b)-i)
	}
	return tlv{kind: t.kind, id: t.id, value: b[i : i+n]}, b[i+n:], nil
}

// tlvDecoder collects the records of one payload.
type tlvDecoder struct {
	types TypeFunc
	recs  []Record
}

func decodeTLV(base Path, payload []byte, types TypeFunc) ([]Record, error) {
	d := &tlvDecoder{types: types}
	if base.Depth() == 0 {
		return nil, badRequest("tlv: no target object")
	}
	for len(payload) > 0 {
		t, rest, err := readTLV(payload)
		if err != nil {
			return nil, err
		}
		if err := d.top(base, t); err != nil {
			return nil, err
		}
		payload = rest
	}
	return d.recs, nil
}

// top decodes one top-level TLV of a payload sent to base.
func (d *tlvDecoder) top(base Path, t tlv) error {
	switch {
	case base.Depth() == 1 && t.kind == tlvObjectInstance:
		return d.resources(base.Child(t.id), t.value)
	case base.Depth() == 1 && t.kind != tlvResourceInstance:
		return d.resource(base.Child(NewInstance), t)
	case base.Depth() == 2 && t.kind == tlvObjectInstance && t.id == base.Instance():
		return d.resources(base, t.value)
	case base.Depth() == 2 && (t.kind == tlvResource || t.kind == tlvMultipleResource):
		return d.resource(base, t)
	case base.Depth() == 3 && t.kind != tlvObjectInstance && t.id == base.Resource():
		return d.resource(base.Parent(), t)
	case base.Depth() == 3 && t.kind == tlvResourceInstance:
		return d.value(base.Child(t.id), t.value)
	case base.Depth() == 4 && t.kind == tlvResourceInstance && t.id == base.ResourceInstance():
		return d.value(base, t.value)
	}
	return badRequest("tlv: %s %d does not belong under %v", tlvKindName(t.kind), t.id, base)
}

// resources decodes the resources of object instance inst.
func (d *tlvDecoder) resources(inst Path, b []byte) error {
	for len(b) > 0 {
		t, rest, err := readTLV(b)
		if err != nil {
			return err
		}
		if t.kind != tlvResource && t.kind != tlvMultipleResource {
			return badRequest("tlv: %s %d inside object instance %v", tlvKindName(t.kind), t.id, inst)
		}
		if err := d.resource(inst, t); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// resource decodes one resource TLV of object instance inst.
func (d *tlvDecoder) resource(inst Path, t tlv) error {
	p := inst.Child(t.id)
	if t.kind == tlvResource {
		return d.value(p, t.value)
	}
	if t.kind != tlvMultipleResource {
		return badRequest("tlv: %s %d where a resource belongs", tlvKindName(t.kind), t.id)
	}
	for b := t.value; len(b) > 0; {
		ri, rest, err := readTLV(b)
		if err != nil {
			return err
		}
		if ri.kind != tlvResourceInstance {
			return badRequest("tlv: %s %d inside multiple resource %v", tlvKindName(ri.kind), ri.id, p)
		}
		if err := d.value(p.Child(ri.id), ri.value); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

func (d *tlvDecoder) value(p Path, b []byte) error {
	t, ok := d.types(p)
	if !ok {
		t = TypeOpaque
	}
	v, err := tlvValue(t, b)
	if err != nil {
		return badRequest("tlv: %v: %s", p, err.Reason)
	}
	d.recs = append(d.recs, Record{Path: p, Value: v})
	return nil
}

// tlvValue interprets value bytes as type t (Core §7.4.3, Table 7.4.3-2).
func tlvValue(t Type, b []byte) (Value, *Error) {
	switch t {
	case TypeInteger, TypeTime:
		n, ok := tlvInt(b)
		if !ok {
			return Value{}, badRequest("%v of %d bytes, not 1, 2, 4 or 8", t, len(b))
		}
		return Value{typ: t, n: uint64(n)}, nil
	case TypeUnsigned:
		if !fixedLen(len(b)) {
			return Value{}, badRequest("%v of %d bytes, not 1, 2, 4 or 8", t, len(b))
		}
		var u uint64
		for _, c := range b {
			u = u<<8 | uint64(c)
		}
		return Uint(u), nil
	case TypeFloat:
		return tlvFloat(b)
	case TypeBoolean:
		if len(b) != 1 || b[0] > 1 {
			return Value{}, badRequest("Boolean must be one byte 0 or 1")
		}
		return Bool(b[0] == 1), nil
	case TypeObjlnk:
		if len(b) != 4 {
			return Value{}, badRequest("Objlnk of %d bytes, not 4", len(b))
		}
		return Objlnk(binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])), nil
	case TypeString, TypeCorelnk:
		if !utf8.Valid(b) {
			return Value{}, badRequest("%v is not UTF-8", t)
		}
		return Value{typ: t, s: string(b)}, nil
	case TypeOpaque:
		return Opaque(b), nil
	}
	if len(b) > 0 {
		return Value{}, badRequest("a resource of type %v takes no value", t)
	}
	return Value{}, nil
}

func fixedLen(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 }

// tlvInt reads a big-endian two's complement integer of 1, 2, 4 or 8
// bytes.
func tlvInt(b []byte) (int64, bool) {
	if !fixedLen(len(b)) {
		return 0, false
	}
	n := int64(int8(b[0]))
	for _, c := range b[1:] {
		n = n<<8 | int64(c)
	}
	return n, true
}

func tlvFloat(b []byte) (Value, *Error) {
	switch len(b) {
	case 4:
		return Float(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
	case 8:
		return Float(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	}
	return Value{}, badRequest("Float of %d bytes, not 4 or 8", len(b))
}

func tlvKindName(kind byte) string {
	switch kind {
	case tlvObjectInstance:
		return "object instance"
	case tlvResourceInstance:
		return "resource instance"
	case tlvMultipleResource:
		return "multiple resource"
	}
	return "resource"
}
