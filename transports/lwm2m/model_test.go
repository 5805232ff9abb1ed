package lwm2m

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func newTestModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	m := NewModel(cfg)
	m.Advance(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m.Changes(nil)
	return m
}

func TestRead(t *testing.T) {
	m := newTestModel(t, Config{Index: 7})
	recs, err := m.Read(InstancePath(ObjectDevice, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.Path.String())
		if r.Value.Type() == TypeNone {
			t.Errorf("Read /3/0 includes %v without a value", r.Path)
		}
	}
	want := []string{"/3/0/0", "/3/0/1", "/3/0/2", "/3/0/3", "/3/0/6/0", "/3/0/7/0", "/3/0/8/0", "/3/0/9",
		"/3/0/10", "/3/0/11/0", "/3/0/13", "/3/0/14", "/3/0/15", "/3/0/16", "/3/0/17", "/3/0/18", "/3/0/19",
		"/3/0/20", "/3/0/21"}
	if !slices.Equal(paths, want) {
		t.Errorf("Read /3/0 paths = %v, want %v", paths, want)
	}
	if v, _ := m.Get(ResourcePath(ObjectDevice, 0, 2)); v.Str() != "M2M0000000007" {
		t.Errorf("serial = %q", v.Str())
	}
	for _, c := range []struct {
		path string
		want error
	}{
		{"/3/0/4", ErrMethodNotAllowed}, {"/", ErrMethodNotAllowed}, {"/0", ErrMethodNotAllowed},
		{"/0/0/0", ErrMethodNotAllowed}, {"/99", ErrNotFound}, {"/3/1", ErrNotFound}, {"/3/0/99", ErrNotFound},
		{"/3/0/9/0", ErrNotFound}, {"/3/0/6/9", ErrNotFound},
	} {
		if _, err := m.Read(mustPath(c.path), nil); !errors.Is(err, c.want) {
			t.Errorf("Read(%s) = %v, want %v", c.path, err, c.want)
		}
	}
	if recs, err := m.Read(ObjectPath(ObjectTemperature), nil); err != nil || len(recs) != 7 {
		t.Errorf("Read /3303 = %d records, %v", len(recs), err)
	}
}

func TestWrite(t *testing.T) {
	m := newTestModel(t, Config{})
	if err := m.Write(ResourcePath(1, 0, 1), []Record{rec("/1/0/1", Int(600))}, true); err != nil {
		t.Fatalf("Write lifetime: %v", err)
	}
	if v, _ := m.Get(ResourcePath(1, 0, 1)); v.Int() != 600 {
		t.Errorf("lifetime = %v", v)
	}
	if got := m.Changes(nil); !slices.Equal(got, []Path{ResourcePath(1, 0, 1)}) {
		t.Errorf("Changes = %v", got)
	}
	for _, c := range []struct {
		name string
		path string
		recs []Record
		want error
	}{
		{"read-only", "/3/0/9", []Record{rec("/3/0/9", Int(1))}, ErrMethodNotAllowed},
		{"executable", "/3/0/4", []Record{rec("/3/0/4", Value{})}, ErrMethodNotAllowed},
		{"wrong type", "/1/0/1", []Record{rec("/1/0/1", String("600"))}, ErrBadRequest},
		{"instance of a single resource", "/1/0/1", []Record{rec("/1/0/1/0", Int(1))}, ErrBadRequest},
		{"unknown resource", "/1/0", []Record{rec("/1/0/99", Int(1))}, ErrNotFound},
		{"unknown instance", "/1/5", nil, ErrNotFound},
		{"record outside the target", "/1/0/1", []Record{rec("/1/0/2", Int(1))}, ErrBadRequest},
		{"write on an object", "/1", nil, ErrMethodNotAllowed},
		{"security by a server", "/0/0", []Record{rec("/0/0/0", String("coap://x"))}, ErrMethodNotAllowed},
	} {
		if err := m.Write(mustPath(c.path), c.recs, false); !errors.Is(err, c.want) {
			t.Errorf("%s: Write = %v, want %v", c.name, err, c.want)
		}
	}
	if v, _ := m.Get(ResourcePath(ObjectDevice, 0, 13)); v.Int() == 5 {
		t.Error("a failed write stored a value")
	}
}

func TestWriteCurrentTime(t *testing.T) {
	m := newTestModel(t, Config{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	set := now.Add(time.Hour)
	if err := m.Write(ResourcePath(3, 0, 13), []Record{rec("/3/0/13", Time(set))}, true); err != nil {
		t.Fatal(err)
	}
	m.Advance(now.Add(time.Minute))
	if v, _ := m.Get(ResourcePath(3, 0, 13)); !v.Time().Equal(set.Add(time.Minute)) {
		t.Errorf("Current Time a minute later = %v, want %v", v.Time(), set.Add(time.Minute))
	}
}

func TestExecute(t *testing.T) {
	var got []string
	m := newTestModel(t, Config{OnExecute: func(p Path, args []byte) { got = append(got, p.String()+" "+string(args)) }})
	if err := m.Execute(ResourcePath(3, 0, 4), []byte("0='now'")); err != nil {
		t.Fatal(err)
	}
	if err := m.Execute(ResourcePath(1, 0, 8), nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/3/0/4 0='now'", "/1/0/8 "}; !slices.Equal(got, want) {
		t.Errorf("OnExecute heard %q, want %q", got, want)
	}
	for _, c := range []struct {
		path string
		want error
	}{{"/3/0/9", ErrMethodNotAllowed}, {"/3/0", ErrMethodNotAllowed}, {"/3/0/99", ErrNotFound}, {"/5/0/2", ErrMethodNotAllowed}} {
		if err := m.Execute(mustPath(c.path), nil); !errors.Is(err, c.want) {
			t.Errorf("Execute(%s) = %v, want %v", c.path, err, c.want)
		}
	}
	if len(got) != 2 {
		t.Errorf("OnExecute heard a refused execute: %q", got)
	}
}

func TestExecuteResets(t *testing.T) {
	m := newTestModel(t, Config{Seed: 3})
	m.Advance(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	lo, _ := m.Get(ResourcePath(3303, 0, 5601))
	hi, _ := m.Get(ResourcePath(3303, 0, 5602))
	if lo.Float() >= hi.Float() {
		t.Fatalf("after a day min %v max %v", lo, hi)
	}
	if err := m.Execute(ResourcePath(3303, 0, 5605), nil); err != nil {
		t.Fatal(err)
	}
	cur, _ := m.Get(ResourcePath(3303, 0, 5700))
	lo, _ = m.Get(ResourcePath(3303, 0, 5601))
	hi, _ = m.Get(ResourcePath(3303, 0, 5602))
	if lo != cur || hi != cur {
		t.Errorf("after reset min %v max %v, want %v", lo, hi, cur)
	}
}

func TestCreateDelete(t *testing.T) {
	m := newTestModel(t, Config{})
	p, err := m.Create(ObjectPath(3303), []Record{{Path: ResourcePath(3303, NewInstance, 5701), Value: String("K")}})
	if err != nil || p != InstancePath(3303, 1) {
		t.Fatalf("Create = %v, %v", p, err)
	}
	if v, _ := m.Get(ResourcePath(3303, 1, 5701)); v.Str() != "K" {
		t.Errorf("created units = %v", v)
	}
	if p, err := m.Create(ObjectPath(3303), []Record{rec("/3303/9/5700", Float(1))}); err != nil || p != InstancePath(3303, 9) {
		t.Errorf("Create /3303/9 = %v, %v", p, err)
	}
	for _, c := range []struct {
		name string
		path string
		recs []Record
		want error
	}{
		{"existing id", "/3303", []Record{rec("/3303/9/5700", Float(1))}, ErrBadRequest},
		{"two instances", "/3303", []Record{rec("/3303/4/5700", Float(1)), rec("/3303/5/5700", Float(1))}, ErrBadRequest},
		{"wrong type", "/3303", []Record{rec("/3303/4/5700", Int(1))}, ErrBadRequest},
		{"executable", "/3303", []Record{rec("/3303/4/5605", Value{})}, ErrBadRequest},
		{"single-instance object", "/3", nil, ErrMethodNotAllowed},
		{"unknown object", "/99", nil, ErrNotFound},
		{"on an instance", "/3303/0", nil, ErrMethodNotAllowed},
	} {
		if _, err := m.Create(mustPath(c.path), c.recs); !errors.Is(err, c.want) {
			t.Errorf("%s: Create = %v, want %v", c.name, err, c.want)
		}
	}
	if err := m.WriteAttributes(ResourcePath(3303, 1, 5700), []string{"pmin=5"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(InstancePath(3303, 1)); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if _, ok := m.Get(ResourcePath(3303, 1, 5700)); ok {
		t.Error("deleted instance still there")
	}
	if p, _ := m.Create(ObjectPath(3303), nil); p != InstancePath(3303, 1) {
		t.Errorf("re-created %v, want /3303/1", p)
	}
	if a := m.Attributes(ResourcePath(3303, 1, 5700)); a.Has&HasPMin != 0 {
		t.Error("attributes survived their instance")
	}
	for path, want := range map[string]error{"/3/0": ErrMethodNotAllowed, "/1/0": ErrMethodNotAllowed,
		"/0/0": ErrMethodNotAllowed, "/3303/7": ErrNotFound, "/3303": ErrMethodNotAllowed} {
		if err := m.Delete(mustPath(path)); !errors.Is(err, want) {
			t.Errorf("Delete(%s) = %v, want %v", path, err, want)
		}
	}
}

func TestWriteAttributesAndDiscover(t *testing.T) {
	m := newTestModel(t, Config{})
	for path, q := range map[string][]string{
		"/3":     {"pmin=10"},
		"/3/0":   {"pmax=60"},
		"/3/0/9": {"gt=50", "lt=42.2"},
	} {
		if err := m.WriteAttributes(mustPath(path), q); err != nil {
			t.Fatalf("WriteAttributes(%s, %q) = %v", path, q, err)
		}
	}
	links, err := m.Discover(ObjectPath(3))
	if err != nil {
		t.Fatal(err)
	}
	want := `</3>;pmin=10,</3/0>;pmax=60,</3/0/0>,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/5>,</3/0/6>;dim=1,` +
		`</3/0/7>;dim=1,</3/0/8>;dim=1,</3/0/9>;gt=50;lt=42.2,</3/0/10>,</3/0/11>;dim=1,</3/0/12>,</3/0/13>,` +
		`</3/0/14>,</3/0/15>,</3/0/16>,</3/0/17>,</3/0/18>,</3/0/19>,</3/0/20>,</3/0/21>`
	if got := string(AppendLinks(nil, links)); got != want {
		t.Errorf("Discover /3 =\n%s\nwant\n%s", got, want)
	}
	links, _ = m.Discover(ResourcePath(3, 0, 9))
	if got := string(AppendLinks(nil, links)); got != `</3/0/9>;pmin=10;pmax=60;gt=50;lt=42.2` {
		t.Errorf("Discover /3/0/9 = %s", got)
	}
	links, _ = m.Discover(ObjectPath(1))
	if got := string(AppendLinks(nil, links[:2])); got != `</1>;ver=1.1,</1/0>` {
		t.Errorf("Discover /1 starts %s", got)
	}
	for _, c := range []struct {
		path string
		q    []string
		want error
	}{
		{"/3/0/0", []string{"gt=1"}, ErrBadRequest},
		{"/3/0", []string{"st=1"}, ErrBadRequest},
		{"/3/0/9", []string{"lt=60"}, ErrBadRequest},
		{"/3/0/9", []string{"st=5"}, ErrBadRequest},
		{"/3/0", []string{"pmin=100"}, ErrBadRequest},
		{"/3/9", []string{"pmin=1"}, ErrNotFound},
		{"/", []string{"pmin=1"}, ErrMethodNotAllowed},
	} {
		if err := m.WriteAttributes(mustPath(c.path), c.q); !errors.Is(err, c.want) {
			t.Errorf("WriteAttributes(%s, %q) = %v, want %v", c.path, c.q, err, c.want)
		}
	}
	if err := m.WriteAttributes(ResourcePath(3, 0, 9), []string{"gt", "lt"}); err != nil {
		t.Fatal(err)
	}
	if a := m.Attributes(ResourcePath(3, 0, 9)); a.Has != HasPMin|HasPMax {
		t.Errorf("after clearing gt and lt: %+v", a)
	}
	if _, err := m.Discover(Path{}); !errors.Is(err, ErrMethodNotAllowed) {
		t.Errorf("Discover / = %v", err)
	}
}

func TestAttributesDefaults(t *testing.T) {
	m := newTestModel(t, Config{})
	if err := m.Write(InstancePath(1, 0), []Record{rec("/1/0/2", Int(5)), rec("/1/0/3", Int(300))}, false); err != nil {
		t.Fatal(err)
	}
	want := Attributes{Has: HasPMin | HasPMax, PMin: 5 * time.Second, PMax: 300 * time.Second}
	if a := m.Attributes(ResourcePath(3303, 0, 5700)); a != want {
		t.Errorf("Attributes with server defaults = %+v, want %+v", a, want)
	}
	if err := m.WriteAttributes(ResourcePath(3303, 0, 5700), []string{"pmax=30", "st=0.5"}); err != nil {
		t.Fatal(err)
	}
	want = Attributes{Has: HasPMin | HasPMax | HasST, PMin: 5 * time.Second, PMax: 30 * time.Second, ST: 0.5}
	if a := m.Attributes(ResourcePath(3303, 0, 5700)); a != want {
		t.Errorf("Attributes overridden = %+v, want %+v", a, want)
	}
}

func TestModelReadEncodes(t *testing.T) {
	m := newTestModel(t, Config{})
	for _, f := range []Format{FormatTLV, FormatSenMLJSON, FormatSenMLCBOR} {
		for _, p := range []Path{ObjectPath(3), InstancePath(4, 0), ResourcePath(6, 0, 0), ObjectPath(3303)} {
			recs, err := m.Read(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Encode(nil, f, p, recs)
			if err != nil {
				t.Fatalf("Encode(%v, %v) = %v", f, p, err)
			}
			got, err := Decode(f, p, b, m.Type)
			if err != nil || !sameRecords(got, recs) {
				t.Errorf("Decode(%v, %v) = %v, %v, want %v", f, p, got, err, recs)
			}
		}
	}
}
