package lwm2m

import (
	"errors"
	"slices"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Path
	}{
		{"/", Path{}},
		{"/3", ObjectPath(3)},
		{"/3/0", InstancePath(3, 0)},
		{"/3/0/7", ResourcePath(3, 0, 7)},
		{"/3/0/7/1", ResourceInstancePath(3, 0, 7, 1)},
		{"/3303/65534/5700/0", ResourceInstancePath(3303, 65534, 5700, 0)},
	} {
		got, err := ParsePath(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParsePath(%q) = %v, %v, want %v", c.in, got, err, c.want)
		}
		if s := got.String(); s != c.in {
			t.Errorf("ParsePath(%q).String() = %q", c.in, s)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, in := range []string{"", "3/0", "/3/", "//3", "/3//0", "/x", "/-1", "/+1", "/03", "/65535",
		"/99999", "/123456", "/1/2/3/4/5", "/3/0 ", "/3/0/"} {
		_, err := ParsePath(in)
		var pe *PathError
		if !errors.As(err, &pe) || pe.Path != in {
			t.Errorf("ParsePath(%q) = %v, want a *PathError", in, err)
		}
	}
}

func TestParseSegments(t *testing.T) {
	p, err := ParseSegments([]string{"3", "0", "7"})
	if err != nil || p != ResourcePath(3, 0, 7) {
		t.Errorf("ParseSegments(3 0 7) = %v, %v", p, err)
	}
	if p, err := ParseSegments(nil); err != nil || p != (Path{}) {
		t.Errorf("ParseSegments(nil) = %v, %v, want the root", p, err)
	}
	if _, err := ParseSegments([]string{"rd"}); err == nil {
		t.Error("ParseSegments(rd) succeeded")
	}
}

func TestPathNavigation(t *testing.T) {
	p := ResourceInstancePath(3, 0, 7, 1)
	if got := p.Parent(); got != ResourcePath(3, 0, 7) {
		t.Errorf("Parent = %v", got)
	}
	if got := p.Truncate(2); got != InstancePath(3, 0) {
		t.Errorf("Truncate(2) = %v", got)
	}
	if p.Object() != 3 || p.Instance() != 0 || p.Resource() != 7 || p.ResourceInstance() != 1 {
		t.Errorf("ids of %v wrong", p)
	}
	if !p.Under(ObjectPath(3)) || !p.Under(Path{}) || !p.Under(p) || p.Under(ObjectPath(4)) {
		t.Error("Under wrong")
	}
	if ObjectPath(3).Under(InstancePath(3, 0)) {
		t.Error("a parent is under its child")
	}
	if got := InstancePath(3, 0).Child(9); got != ResourcePath(3, 0, 9) {
		t.Errorf("Child = %v", got)
	}
	if (Path{}).Parent() != (Path{}) || p.Child(5) != p {
		t.Error("the root's parent or a resource instance's child moved")
	}
}

func TestPathCompare(t *testing.T) {
	want := []Path{{}, ObjectPath(3), InstancePath(3, 0), ResourcePath(3, 0, 7),
		ResourceInstancePath(3, 0, 7, 0), ResourceInstancePath(3, 0, 7, 1), ResourcePath(3, 0, 8),
		InstancePath(3, 1), ObjectPath(4), ObjectPath(3303)}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, Path.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
}
