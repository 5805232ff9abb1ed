package lwm2m

import (
	"errors"
	"reflect"
	"testing"
)

func TestLinksRoundTrip(t *testing.T) {
	for _, in := range []string{
		// The Discover example of the Core specification (§5.4.1).
		`</3>;pmin=10,</3/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/6>;dim=8,</3/0/7>;dim=8;gt=50;lt=42.2,</3/0/8>;dim=8,</3/0/11>,</3/0/16>`,
		`</>;rt="oma.lwm2m";ct="60 110 112 11542 11543",</1>;ver=1.1,</1/0>,</3>;ver=1.1,</3/0>,</3442/0>`,
		`</sensors/temp>;rt="temperature-c";if="sensor";obs,</a>;title="a \"b\" \\ c"`,
		`</a>;x=""`,
		``,
	} {
		links, err := ParseLinks([]byte(in))
		if err != nil {
			t.Errorf("ParseLinks(%q) = %v", in, err)
			continue
		}
		if out := string(AppendLinks(nil, links)); out != in {
			t.Errorf("AppendLinks(ParseLinks(%q)) = %q", in, out)
		}
	}
}

func TestParseLinks(t *testing.T) {
	got, err := ParseLinks([]byte(`</>;ct="110 112", </1/0>;ver=1.1;obs`))
	want := []Link{
		{Target: "/", Attrs: []Attr{{Name: "ct", Value: "110 112", Quoted: true}}},
		{Target: "/1/0", Attrs: []Attr{{Name: "ver", Value: "1.1"}, {Name: "obs"}}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLinks = %#v, %v, want %#v", got, err, want)
	}
	if v, ok := got[1].Attr("ver"); !ok || v != "1.1" {
		t.Errorf("Attr(ver) = %q, %v", v, ok)
	}
	if _, ok := got[1].Attr("dim"); ok {
		t.Error("Attr(dim) found")
	}
}

func TestParseLinksErrors(t *testing.T) {
	for _, in := range []string{`/3`, `<3`, `</3>,`, `</3>;`, `</3>;=1`, `</3>;a=`, `</3>;a="x`, `</3>;a="x` + "\x01" + `"`,
		`</3>x`, `</3> ,</4>`, `<</3>>`, `</3>;a=b c`} {
		_, err := ParseLinks([]byte(in))
		var le *LinkError
		if !errors.As(err, &le) {
			t.Errorf("ParseLinks(%q) = %v, want a *LinkError", in, err)
		}
	}
}

func TestAppendLinksQuotes(t *testing.T) {
	got := string(AppendLinks(nil, []Link{{Target: "/1", Attrs: []Attr{
		{Name: "ct", Value: "110 112"}, {Name: "t", Value: `a"b`}, {Name: "ver", Value: "1.1"}, {Name: "obs"}}}}))
	if want := `</1>;ct="110 112";t="a\"b";ver=1.1;obs`; got != want {
		t.Errorf("AppendLinks = %s, want %s", got, want)
	}
}
