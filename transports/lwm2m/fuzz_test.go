package lwm2m

import (
	"reflect"
	"testing"
)

// fuzzBases are the targets a payload is decoded against, picked by the
// fuzzer's first byte.
var fuzzBases = []Path{{}, ObjectPath(3), InstancePath(3, 0), ResourcePath(3, 0, 7), ResourceInstancePath(3, 0, 7, 1),
	ObjectPath(65), InstancePath(65, 0), ObjectPath(66), ObjectPath(3303), InstancePath(2, 2)}

// fuzzDecode checks a decoder: it must never panic, and whatever it
// accepts must encode and decode back to the same records (byte
// equality is too strong: decoders take non-minimal forms).
func fuzzDecode(f *testing.F, format Format) {
	for _, fx := range append(fixtures, malformed...) {
		if fx.format == format {
			f.Add(byte(0), fx.bytes(f))
			for i, b := range fuzzBases {
				if b == fx.base {
					f.Add(byte(i), fx.bytes(f))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, pick byte, data []byte) {
		base := fuzzBases[int(pick)%len(fuzzBases)]
		recs, err := Decode(format, base, data, specTypes)
		if err != nil {
			return
		}
		recs = withoutNewInstance(recs)
		out, err := Encode(nil, format, base, recs)
		if err != nil {
			return // e.g. duplicate paths, or several values where one fits
		}
		again, err := Decode(format, base, out, specTypes)
		if err != nil || !sameRecords(again, sortedRecords(recs)) {
			t.Fatalf("Decode(%v, %x) = %v\nencoded %x\ndecoded again %v, %v", base, data, recs, out, again, err)
		}
	})
}

// withoutNewInstance drops records a Create payload left without an
// instance: they are not values the device could answer with.
func withoutNewInstance(recs []Record) []Record {
	var out []Record
	for _, r := range recs {
		if r.Path.Depth() < 2 || r.Path.Instance() != NewInstance {
			out = append(out, r)
		}
	}
	return out
}

func sortedRecords(recs []Record) []Record {
	out := append([]Record(nil), recs...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Path.Compare(out[j-1].Path) < 0; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func FuzzDecodeTLV(f *testing.F)       { fuzzDecode(f, FormatTLV) }
func FuzzDecodeSenMLJSON(f *testing.F) { fuzzDecode(f, FormatSenMLJSON) }
func FuzzDecodeSenMLCBOR(f *testing.F) { fuzzDecode(f, FormatSenMLCBOR) }
func FuzzDecodeText(f *testing.F)      { fuzzDecode(f, FormatText) }

// FuzzParseLinks: never panic; what parses formats to text that parses
// to the same links.
func FuzzParseLinks(f *testing.F) {
	for _, s := range []string{`</3>;pmin=10,</3/0>,</3/0/7>;dim=8;gt=50;lt=42.2`, `</>;rt="oma.lwm2m";ct="110 112",</1>;ver=1.1`,
		`</a>;t="x\"y\\z";obs`, `</a>, </b>`, `</a>;x=""`, `<`, `</a>;`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		links, err := ParseLinks(data)
		if err != nil {
			return
		}
		out := AppendLinks(nil, links)
		again, err := ParseLinks(out)
		if err != nil || !reflect.DeepEqual(again, links) {
			t.Fatalf("ParseLinks(%q) = %#v\nformatted %q\nparsed again %#v, %v", data, links, out, again, err)
		}
	})
}

// FuzzParsePath: never panic; every path accepted is its own String.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/", "/3", "/3/0/7/1", "/3303/65534", "/03", "/3/", "/65535", "//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePath(%q).String() = %q", s, p.String())
		}
	})
}

// FuzzParseAttributes: never panic; accepted attributes hold what they
// were given (Merge of the set part is itself).
func FuzzParseAttributes(f *testing.F) {
	f.Add("pmin=10", "gt=1.5", "lt")
	f.Add("st=0", "pmax=99999999999", "x")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		set, _, err := ParseAttributes([]string{a, b, c})
		if err == nil && set.Merge(set) != set {
			t.Fatalf("Merge changed %+v", set)
		}
	})
}
