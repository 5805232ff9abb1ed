package lwm2m

import (
	"encoding/hex"
	"strings"
	"testing"
)

// fixture is a payload byte for byte and the records it carries,
// answering (or written to) base. The table is shared by the encoder and
// decoder tests, the fuzz seeds and the benchmarks.
type fixture struct {
	name   string
	format Format
	base   Path
	wire   string // hex for the binary formats (spaces ignored), else the text
	recs   []Record
}

func (f fixture) bytes(t testing.TB) []byte {
	t.Helper()
	if f.format == FormatSenMLJSON || f.format == FormatText || f.format == FormatLink {
		return []byte(f.wire)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(f.wire), ""))
	if err != nil {
		t.Fatalf("fixture %s: %v", f.name, err)
	}
	return b
}

func rec(p string, v Value) Record { return Record{Path: mustPath(p), Value: v} }

func mustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// specTypes resolves the objects of the specification's examples: the
// device's own definitions, plus Access Control (2) and the example
// objects 65 and 66 of the Object Link examples.
func specTypes(p Path) (Type, bool) {
	switch p.Object() {
	case 2:
		return TypeInteger, p.Resource() <= 3
	case 65:
		return [...]Type{TypeObjlnk, TypeString, TypeInteger}[min(p.Resource(), 2)], p.Resource() <= 2
	case 66:
		return [...]Type{TypeString, TypeString, TypeObjlnk}[min(p.Resource(), 2)], p.Resource() <= 2
	}
	return NewModel(Config{}).Type(p)
}

// deviceRecords are the Device object values of the specification's
// examples (Core §7.4.3 TLV, §7.4.4 SenML): the records of a Read on
// /3/0.
func deviceRecords() []Record {
	return []Record{
		rec("/3/0/0", String("Open Mobile Alliance")),
		rec("/3/0/1", String("Lightweight M2M Client")),
		rec("/3/0/2", String("345000123")),
		rec("/3/0/3", String("1.0")),
		rec("/3/0/6/0", Int(1)), rec("/3/0/6/1", Int(5)),
		rec("/3/0/7/0", Int(3800)), rec("/3/0/7/1", Int(5000)),
		rec("/3/0/8/0", Int(125)), rec("/3/0/8/1", Int(900)),
		rec("/3/0/9", Int(100)),
		rec("/3/0/10", Int(15)),
		rec("/3/0/11/0", Int(0)),
		rec("/3/0/13", UnixTime(1367491215)),
		rec("/3/0/14", String("+02:00")),
		rec("/3/0/16", String("U")),
	}
}

// deviceTLV is the TLV of the Device example, resource by resource.
const deviceTLV = `
	C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
	C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
	C8 02 09 33 34 35 30 30 30 31 32 33
	C3 03 31 2E 30
	86 06 41 00 01 41 01 05
	88 07 08 42 00 0E D8 42 01 13 88
	87 08 41 00 7D 42 01 03 84
	C1 09 64
	C1 0A 0F
	83 0B 41 00 00
	C4 0D 51 82 42 8F
	C6 0E 2B 30 32 3A 30 30
	C1 10 55`

// fixtures: the first eight are the TLV examples of the Core
// specification (LwM2M 1.0 §6.4.3.1-3, kept in 1.1 Core §7.4.3 and its
// appendix) byte for byte; then the SenML JSON and CBOR examples of
// Core 1.1.1 §7.4.4 for the same Device values (JSON with the
// specification's whitespace removed); the rest are derived here to
// cover what the examples do not (16-bit ids and lengths, every type).
var fixtures = []fixture{
	{"spec: single object instance read /3/0", FormatTLV, mustPath("/3/0"), deviceTLV, deviceRecords()},
	{"spec: multiple object instance read /3", FormatTLV, mustPath("/3"), "08 00 79" + deviceTLV,
		deviceRecords()},
	{"spec: single resource read /3/0/9", FormatTLV, mustPath("/3/0/9"), "C1 09 64",
		[]Record{rec("/3/0/9", Int(100))}},
	{"spec: multiple resource read /3/0/7", FormatTLV, mustPath("/3/0/7"), "88 07 08 42 00 0E D8 42 01 13 88",
		[]Record{rec("/3/0/7/0", Int(3800)), rec("/3/0/7/1", Int(5000))}},
	{"spec: access control instances /2", FormatTLV, mustPath("/2"), `
		08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F
		08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F`,
		[]Record{rec("/2/0/0", Int(1)), rec("/2/0/1", Int(0)), rec("/2/0/2/127", Int(7)), rec("/2/0/3", Int(127)),
			rec("/2/2/0", Int(3)), rec("/2/2/1", Int(0)), rec("/2/2/2/127", Int(7)), rec("/2/2/2/310", Int(1)),
			rec("/2/2/3", Int(127))}},
	{"spec: server instance /1", FormatTLV, mustPath("/1"), "08 00 0F C1 00 01 C4 01 00 01 51 80 C1 06 01 C1 07 55",
		[]Record{rec("/1/0/0", Int(1)), rec("/1/0/1", Int(86400)), rec("/1/0/6", Bool(true)), rec("/1/0/7", String("U"))}},
	{"spec: object link /65/0", FormatTLV, mustPath("/65/0"), `
		88 00 0C 44 00 00 42 00 00 44 01 00 42 00 01
		C8 01 0D 38 36 31 33 38 30 30 37 35 35 35 30 30
		C4 02 12 34 56 78`,
		[]Record{rec("/65/0/0/0", Objlnk(66, 0)), rec("/65/0/0/1", Objlnk(66, 1)),
			rec("/65/0/1", String("8613800755500")), rec("/65/0/2", Int(0x12345678))}},
	{"spec: object link /66", FormatTLV, mustPath("/66"), `
		08 00 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 31
		C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 34 C4 02 00 43 00 00
		08 01 26 C8 00 0B 6D 79 53 65 72 76 69 63 65 20 32
		C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 35 C4 02 FF FF FF FF`,
		[]Record{rec("/66/0/0", String("myService 1")), rec("/66/0/1", String("Internet.15.234")),
			rec("/66/0/2", Objlnk(67, 0)), rec("/66/1/0", String("myService 2")),
			rec("/66/1/1", String("Internet.15.235")), rec("/66/1/2", Objlnk(65535, 65535))}},
	{"spec: senml json read /3/0", FormatSenMLJSON, mustPath("/3/0"),
		`[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},` +
			`{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},` +
			`{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},` +
			`{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},` +
			`{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]`,
		deviceRecords()},
	{"spec: senml cbor read /3/0", FormatSenMLCBOR, mustPath("/3/0"), `
		90 a3 21 65 2f 33 2f 30 2f 00 61 30 03 74 4f 70 65 6e 20 4d 6f 62 69 6c 65 20 41 6c 6c 69 61 6e 63 65
		a2 00 61 31 03 76 4c 69 67 68 74 77 65 69 67 68 74 20 4d 32 4d 20 43 6c 69 65 6e 74
		a2 00 61 32 03 69 33 34 35 30 30 30 31 32 33 a2 00 61 33 03 63 31 2e 30
		a2 00 63 36 2f 30 02 01 a2 00 63 36 2f 31 02 05 a2 00 63 37 2f 30 02 19 0e d8
		a2 00 63 37 2f 31 02 19 13 88 a2 00 63 38 2f 30 02 18 7d a2 00 63 38 2f 31 02 19 03 84
		a2 00 61 39 02 18 64 a2 00 62 31 30 02 0f a2 00 64 31 31 2f 30 02 00
		a2 00 62 31 33 02 1a 51 82 42 8f a2 00 62 31 34 03 66 2b 30 32 3a 30 30 a2 00 62 31 36 03 61 55`,
		deviceRecords()},
	{"senml json single resource, bn only", FormatSenMLJSON, mustPath("/3/0/0"),
		`[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]`, []Record{rec("/3/0/0", String("Open Mobile Alliance"))}},
	{"tlv 16-bit id, float32", FormatTLV, mustPath("/3303/0/5700"), "E4 16 44 41 AC 00 00",
		[]Record{rec("/3303/0/5700", Float(21.5))}},
	{"tlv negative integer", FormatTLV, mustPath("/65/0"),
		"C1 02 80", []Record{rec("/65/0/2", Int(-128))}},
	{"tlv 16-bit length field", FormatTLV, mustPath("/3/0/0"), "D0 00 01 00" + strings.Repeat(" 61", 256),
		[]Record{rec("/3/0/0", String(strings.Repeat("a", 256)))}},
	{"tlv resource instance /3/0/11/0", FormatTLV, mustPath("/3/0/11/0"), "41 00 00",
		[]Record{rec("/3/0/11/0", Int(0))}},
	{"senml json every type", FormatSenMLJSON, mustPath("/"),
		`[{"n":"/1/0/6","vb":false},{"n":"/3/0/9","v":-5},{"n":"/3/0/13","t":1367491215,"v":1367491215},` +
			`{"n":"/5/0/0","vd":"AAEC_w"},{"n":"/65/0/0/1","vlo":"66:1"},{"n":"/65/0/1","vs":"a\"\\\u0001"},` +
			`{"n":"/3303/0/5700","v":21.5}]`,
		everyType("a\"\\\x01")},
	{"senml cbor every type", FormatSenMLCBOR, mustPath("/"), `
		87 a2 00 66 2f 31 2f 30 2f 36 04 f4
		a2 00 66 2f 33 2f 30 2f 39 02 24
		a3 00 67 2f 33 2f 30 2f 31 33 06 1a 51 82 42 8f 02 1a 51 82 42 8f
		a2 00 66 2f 35 2f 30 2f 30 08 44 00 01 02 ff
		a2 00 69 2f 36 35 2f 30 2f 30 2f 31 63 76 6c 6f 64 36 36 3a 31
		a2 00 67 2f 36 35 2f 30 2f 31 03 61 61
		a2 00 6c 2f 33 33 30 33 2f 30 2f 35 37 30 30 02 fa 41 ac 00 00`,
		everyType("a")},
	{"text integer", FormatText, mustPath("/3/0/9"), "100", []Record{rec("/3/0/9", Int(100))}},
	{"text objlnk", FormatText, mustPath("/66/0/2"), "67:0", []Record{rec("/66/0/2", Objlnk(67, 0))}},
	{"opaque", FormatOpaque, mustPath("/5/0/0"), "00 01 02 ff", []Record{rec("/5/0/0", Opaque([]byte{0, 1, 2, 0xff}))}},
}

func TestFixturesEncode(t *testing.T) {
	for _, f := range fixtures {
		got, err := Encode(nil, f.format, f.base, f.recs)
		if err != nil {
			t.Errorf("%s: Encode = %v", f.name, err)
			continue
		}
		if want := f.bytes(t); string(got) != string(want) {
			t.Errorf("%s: Encode =\n%x\nwant\n%x", f.name, got, want)
		}
	}
}

func TestFixturesDecode(t *testing.T) {
	for _, f := range fixtures {
		got, err := Decode(f.format, f.base, f.bytes(t), specTypes)
		if err != nil {
			t.Errorf("%s: Decode = %v", f.name, err)
			continue
		}
		if !sameRecords(got, f.recs) {
			t.Errorf("%s: Decode =\n%v\nwant\n%v", f.name, got, f.recs)
		}
	}
}

func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// everyType is one record of each SenML value kind, in path order, with
// the string s.
func everyType(s string) []Record {
	return []Record{rec("/1/0/6", Bool(false)), rec("/3/0/9", Int(-5)),
		{Path: mustPath("/3/0/13"), Value: UnixTime(1367491215), Time: 1367491215},
		rec("/5/0/0", Opaque([]byte{0, 1, 2, 0xff})), rec("/65/0/0/1", Objlnk(66, 1)),
		rec("/65/0/1", String(s)), rec("/3303/0/5700", Float(21.5))}
}
