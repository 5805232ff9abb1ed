package lwm2m

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// typed resolves /65/0/r to the r-th type, a test object with one
// resource of every type (and /65/0/20 a multi-instance Integer).
func typed(p Path) (Type, bool) {
	if p.Object() != 65 {
		return TypeNone, false
	}
	if p.Resource() == 20 {
		return TypeInteger, true
	}
	return Type(p.Resource()), p.Resource() >= 1 && p.Resource() <= uint16(TypeCorelnk)
}

// samples are values of every type, at their resource of object 65,
// including the edges of every encoding.
var samples = []Record{
	rec("/65/0/1", String("héllo, \"wörld\"\n")),
	rec("/65/0/1", String("")),
	rec("/65/0/2", Int(0)), rec("/65/0/2", Int(-1)), rec("/65/0/2", Int(127)), rec("/65/0/2", Int(128)),
	rec("/65/0/2", Int(-32769)), rec("/65/0/2", Int(1<<31)), rec("/65/0/2", Int(math.MaxInt64)),
	rec("/65/0/2", Int(math.MinInt64)),
	rec("/65/0/3", Uint(0)), rec("/65/0/3", Uint(255)), rec("/65/0/3", Uint(65536)), rec("/65/0/3", Uint(math.MaxUint64)),
	rec("/65/0/4", Float(0)), rec("/65/0/4", Float(21.5)), rec("/65/0/4", Float(-0.1)), rec("/65/0/4", Float(1e300)),
	rec("/65/0/4", Float(math.SmallestNonzeroFloat64)),
	rec("/65/0/5", Bool(true)), rec("/65/0/5", Bool(false)),
	rec("/65/0/6", Opaque(nil)), rec("/65/0/6", Opaque([]byte{0, 0xff, 0x10})),
	rec("/65/0/6", Opaque([]byte(strings.Repeat("x", 70000)))),
	rec("/65/0/7", Time(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))), rec("/65/0/7", UnixTime(-1)),
	rec("/65/0/8", Objlnk(3, 0)), rec("/65/0/8", Objlnk(65535, 65535)),
	rec("/65/0/9", Corelnk("</3/0>;pmin=10,</5/0>")),
}

// TestRoundTripSingle encodes every sample alone, as the answer to a
// read on its resource, in every format that can carry it.
func TestRoundTripSingle(t *testing.T) {
	for _, f := range []Format{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR, FormatText, FormatOpaque} {
		for _, r := range samples {
			b, err := Encode(nil, f, r.Path, []Record{r})
			if f == FormatOpaque && r.Value.Type() != TypeOpaque {
				if !errors.Is(err, ErrNotAcceptable) {
					t.Errorf("Encode(%v, %v) = %v, want 4.06", f, r.Value, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("Encode(%v, %v) = %v", f, r.Value, err)
				continue
			}
			got, err := Decode(f, r.Path, b, typed)
			if err != nil || len(got) != 1 || got[0] != r {
				t.Errorf("Decode(%v, Encode(%v %v)) = %v, %v", f, r.Path, r.Value.Type(), got, err)
			}
		}
	}
}

// TestRoundTripNested encodes an object of two instances with single and
// multi-instance resources, read at every level, in every format that
// carries several values.
func TestRoundTripNested(t *testing.T) {
	all := []Record{
		rec("/65/0/1", String("a")), rec("/65/0/2", Int(-7)), rec("/65/0/4", Float(2.25)),
		rec("/65/0/20/0", Int(1)), rec("/65/0/20/300", Int(2)),
		rec("/65/1/5", Bool(true)), rec("/65/1/8", Objlnk(1, 2)), rec("/65/1/20/7", Int(1<<40)),
	}
	for _, f := range []Format{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR} {
		for _, base := range []string{"/", "/65", "/65/0", "/65/0/20", "/65/0/20/300"} {
			if f == FormatTLV && base == "/" {
				continue
			}
			bp := mustPath(base)
			var recs []Record
			for _, r := range all {
				if r.Path.Under(bp) {
					recs = append(recs, r)
				}
			}
			b, err := Encode(nil, f, bp, recs)
			if err != nil {
				t.Errorf("Encode(%v, %v) = %v", f, bp, err)
				continue
			}
			got, err := Decode(f, bp, b, typed)
			if err != nil || !sameRecords(got, recs) {
				t.Errorf("Decode(%v, %v) = %v, %v, want %v", f, bp, got, err, recs)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		f    Format
		base string
		recs []Record
		want error
	}{
		{"text carries one value", FormatText, "/65/0", []Record{rec("/65/0/1", String("a")), rec("/65/0/2", Int(1))}, ErrNotAcceptable},
		{"record outside base", FormatTLV, "/65/0", []Record{rec("/65/1/1", String("a"))}, ErrNotAcceptable},
		{"tlv cannot carry the root", FormatTLV, "/", []Record{rec("/65/1/1", String("a"))}, ErrNotAcceptable},
		{"json has no NaN", FormatSenMLJSON, "/65/0/4", []Record{rec("/65/0/4", Float(math.NaN()))}, ErrNotAcceptable},
		{"cbor has no NaN either", FormatSenMLCBOR, "/65/0/4", []Record{rec("/65/0/4", Float(math.Inf(1)))}, ErrNotAcceptable},
		{"unknown format", Format(11543), "/65/0/4", nil, ErrUnsupportedContentFormat},
	} {
		if _, err := Encode(nil, c.f, mustPath(c.base), c.recs); !errors.Is(err, c.want) {
			t.Errorf("%s: Encode = %v, want %v", c.name, err, c.want)
		}
	}
}

// malformed are payloads every decoder must refuse with 4.00.
var malformed = []fixture{
	{"tlv truncated header", FormatTLV, mustPath("/3/0"), "C1", nil},
	{"tlv truncated 16-bit id", FormatTLV, mustPath("/3/0"), "E1 16", nil},
	{"tlv truncated length", FormatTLV, mustPath("/3/0"), "C8 09", nil},
	{"tlv value past the end", FormatTLV, mustPath("/3/0"), "C4 09 00", nil},
	{"tlv integer of 3 bytes", FormatTLV, mustPath("/3/0"), "C3 09 00 00 01", nil},
	{"tlv boolean 2", FormatTLV, mustPath("/1/0"), "C1 06 02", nil},
	{"tlv string not utf-8", FormatTLV, mustPath("/3/0"), "C1 00 ff", nil},
	{"tlv other instance than the target", FormatTLV, mustPath("/3/0"), "08 01 03 C1 09 64", nil},
	{"tlv resource instance under an instance", FormatTLV, mustPath("/3/0"), "41 00 01", nil},
	{"tlv resource in a multiple resource", FormatTLV, mustPath("/3/0"), "83 06 C1 00 01", nil},
	{"tlv other resource than the target", FormatTLV, mustPath("/3/0/9"), "C1 0A 0F", nil},
	{"tlv no target", FormatTLV, Path{}, "C1 0A 0F", nil},
	{"json not an array", FormatSenMLJSON, mustPath("/3/0"), `{"n":"/3/0/9","v":1}`, nil},
	{"json trailing data", FormatSenMLJSON, mustPath("/3/0"), `[] []`, nil},
	{"json two values", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/3/0/9","v":1,"vs":"a"}]`, nil},
	{"json name not a path", FormatSenMLJSON, mustPath("/3/0"), `[{"bn":"/3/0/","n":"x","v":1}]`, nil},
	{"json name outside target", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/4/0/2","v":1}]`, nil},
	{"json object path", FormatSenMLJSON, mustPath("/"), `[{"n":"/3/0","v":1}]`, nil},
	{"json string for an integer", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/3/0/9","vs":"1"}]`, nil},
	{"json fraction for an integer", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/3/0/9","v":1.5}]`, nil},
	{"json integer overflow", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/3/0/9","v":9223372036854775808}]`, nil},
	{"json vd not base64url", FormatSenMLJSON, mustPath("/5/0"), `[{"n":"/5/0/0","vd":"a+b/"}]`, nil},
	{"json bad objlnk", FormatSenMLJSON, mustPath("/65/0"), `[{"n":"/65/0/0/0","vlo":"66"}]`, nil},
	{"cbor not an array", FormatSenMLCBOR, mustPath("/3/0"), "a0", nil},
	{"cbor truncated", FormatSenMLCBOR, mustPath("/3/0"), "81 a2 00 66 2f 33 2f 30 2f", nil},
	{"cbor duplicate key", FormatSenMLCBOR, mustPath("/3/0"), "81 a2 00 61 31 00 61 31", nil},
	{"cbor tag", FormatSenMLCBOR, mustPath("/3/0"), "81 a2 00 66 2f 33 2f 30 2f 39 02 c1 01", nil},
	{"cbor text v", FormatSenMLCBOR, mustPath("/3/0"), "81 a2 00 66 2f 33 2f 30 2f 39 02 61 31", nil},
	{"text not a number", FormatText, mustPath("/3/0/9"), "ten", nil},
	{"text boolean 2", FormatText, mustPath("/1/0/6"), "2", nil},
	{"text on an instance", FormatText, mustPath("/3/0"), "1", nil},
}

func TestDecodeMalformed(t *testing.T) {
	for _, f := range malformed {
		if got, err := Decode(f.format, f.base, f.bytes(t), specTypes); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: Decode = %v, %v, want 4.00", f.name, got, err)
		}
	}
}

func TestDecodeUnknownTypes(t *testing.T) {
	got, err := Decode(FormatSenMLJSON, Path{}, []byte(`[{"n":"/9/0/1","v":2},{"n":"/9/0/2","v":2.5},`+
		`{"n":"/9/0/3","v":18446744073709551615},{"n":"/9/0/4","vs":"s"},{"n":"/9/0/5"}]`), nil)
	want := []Record{rec("/9/0/1", Int(2)), rec("/9/0/2", Float(2.5)), rec("/9/0/3", Uint(math.MaxUint64)),
		rec("/9/0/4", String("s")), rec("/9/0/5", Value{})}
	if err != nil || !sameRecords(got, want) {
		t.Errorf("Decode untyped = %v, %v, want %v", got, err, want)
	}
	got, err = Decode(FormatTLV, InstancePath(9, 0), []byte{0xc1, 1, 0x64}, nil)
	if err != nil || len(got) != 1 || got[0] != rec("/9/0/1", Opaque([]byte{0x64})) {
		t.Errorf("Decode untyped tlv = %v, %v", got, err)
	}
}

// TestDecodeLenient covers what peers send that the encoder never
// writes: non-minimal TLV lengths and ids, a Write on an instance wrapped
// in its instance TLV, bare resource instances, whole floats for
// integers, padded base64, SenML base time.
func TestDecodeLenient(t *testing.T) {
	for _, c := range []struct {
		f    fixture
		want []Record
	}{
		{fixture{"tlv 8-bit length for 1 byte", FormatTLV, mustPath("/3/0"), "C8 09 01 64", nil},
			[]Record{rec("/3/0/9", Int(100))}},
		{fixture{"tlv 16-bit id for 9", FormatTLV, mustPath("/3/0"), "E1 00 09 64", nil},
			[]Record{rec("/3/0/9", Int(100))}},
		{fixture{"tlv 24-bit length", FormatTLV, mustPath("/3/0"), "D8 09 00 00 01 64", nil},
			[]Record{rec("/3/0/9", Int(100))}},
		{fixture{"tlv instance wrapper on the instance", FormatTLV, mustPath("/3/0"), "08 00 03 C1 09 64", nil},
			[]Record{rec("/3/0/9", Int(100))}},
		{fixture{"tlv create without instance", FormatTLV, mustPath("/3303"), "E4 16 44 41 AC 00 00", nil},
			[]Record{{Path: ResourcePath(3303, NewInstance, 5700), Value: Float(21.5)}}},
		{fixture{"tlv resource instances on a resource", FormatTLV, mustPath("/3/0/7"), "42 00 0E D8", nil},
			[]Record{rec("/3/0/7/0", Int(3800))}},
		{fixture{"json whole float for an integer", FormatSenMLJSON, mustPath("/3/0"), `[{"n":"/3/0/9","v":100.0}]`, nil},
			[]Record{rec("/3/0/9", Int(100))}},
		{fixture{"json padded base64url", FormatSenMLJSON, mustPath("/5/0"), `[{"n":"/5/0/0","vd":"AAE="}]`, nil},
			[]Record{rec("/5/0/0", Opaque([]byte{0, 1}))}},
		{fixture{"json base time", FormatSenMLJSON, mustPath("/3303/0"),
			`[{"bn":"/3303/0/5700","bt":1000,"v":21.5,"t":-5},{"n":"","v":22}]`, nil},
			[]Record{{Path: mustPath("/3303/0/5700"), Value: Float(21.5), Time: 995},
				{Path: mustPath("/3303/0/5700"), Value: Float(22), Time: 1000}}},
		{fixture{"cbor half float, indefinite array", FormatSenMLCBOR, mustPath("/3303/0"),
			"9f a2 00 6c 2f 33 33 30 33 2f 30 2f 35 37 30 30 02 f9 4d 60 ff", nil},
			[]Record{rec("/3303/0/5700", Float(21.5))}},
	} {
		got, err := Decode(c.f.format, c.f.base, c.f.bytes(t), specTypes)
		if err != nil || !sameRecords(got, c.want) {
			t.Errorf("%s: Decode = %v, %v, want %v", c.f.name, got, err, c.want)
		}
	}
}

func TestValueAccessors(t *testing.T) {
	if v := Int(-3); v.Int() != -3 || v.Float() != -3 || v.Uint() != math.MaxUint64-2 {
		t.Errorf("Int(-3) accessors: %d %g %d", v.Int(), v.Float(), v.Uint())
	}
	if o, i := Objlnk(66, 1).Objlnk(); o != 66 || i != 1 {
		t.Errorf("Objlnk(66, 1).Objlnk() = %d, %d", o, i)
	}
	tm := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if got := Time(tm).Time(); !got.Equal(tm) {
		t.Errorf("Time round trip = %v", got)
	}
	if _, ok := String("1").Number(); ok {
		t.Error("a String is a number")
	}
	for ty := TypeNone; ty <= TypeCorelnk+1; ty++ {
		if ty.String() == "" {
			t.Errorf("Type(%d) has no name", ty)
		}
	}
}

func TestTextForms(t *testing.T) {
	for _, c := range []struct {
		v    Value
		text string
	}{
		{Int(-12), "-12"}, {Uint(12), "12"}, {Float(0.5), "0.5"}, {Bool(true), "1"}, {Bool(false), "0"},
		{UnixTime(1367491215), "1367491215"}, {Objlnk(66, 1), "66:1"}, {Opaque([]byte{1, 2, 3}), "AQID"},
		{String("x y"), "x y"}, {Corelnk("</1>"), "</1>"},
	} {
		if got := c.v.String(); got != c.text {
			t.Errorf("%v.String() = %q, want %q", c.v.Type(), got, c.text)
		}
		if got, err := ParseText(c.v.Type(), c.text); err != nil || got != c.v {
			t.Errorf("ParseText(%v, %q) = %v, %v", c.v.Type(), c.text, got, err)
		}
	}
}
