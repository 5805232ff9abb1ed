package lwm2m

import (
	"errors"
	"testing"
	"time"
)

func TestParseAttributes(t *testing.T) {
	set, clear, err := ParseAttributes([]string{"pmin=10", "pmax=60", "gt=50", "lt=42.2", "st"})
	want := Attributes{Has: HasPMin | HasPMax | HasGT | HasLT, PMin: 10 * time.Second, PMax: time.Minute, GT: 50, LT: 42.2}
	if err != nil || set != want || clear != HasST {
		t.Errorf("ParseAttributes = %+v, %v, %v", set, clear, err)
	}
	for _, q := range [][]string{{"pmin=-1"}, {"pmin=1.5"}, {"gt=x"}, {"st=-1"}, {"dim=3"}, {"ver=1.1"},
		{"epmin=1"}, {"pmin=1", "pmin=2"}, {"pmin=1", "pmin"}, {"gt=NaN"}, {"lt=Inf"}} {
		if _, _, err := ParseAttributes(q); !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseAttributes(%q) = %v, want 4.00", q, err)
		}
	}
}

func TestAttributesMergeClear(t *testing.T) {
	obj := Attributes{Has: HasPMin | HasPMax, PMin: time.Second, PMax: time.Hour}
	res := Attributes{Has: HasPMax | HasST, PMax: time.Minute, ST: 2}
	got := obj.Merge(res)
	want := Attributes{Has: HasPMin | HasPMax | HasST, PMin: time.Second, PMax: time.Minute, ST: 2}
	if got != want {
		t.Errorf("Merge = %+v, want %+v", got, want)
	}
	if got.Clear(HasPMax).Has != HasPMin|HasST {
		t.Error("Clear(HasPMax) kept pmax")
	}
}

func TestNotify(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a := func(q ...string) Attributes {
		set, _, err := ParseAttributes(q)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	last := Notified{At: t0, Value: Float(20)}
	for _, c := range []struct {
		name  string
		attrs Attributes
		cur   Value
		now   int
		send  bool
		next  int // -1: none
	}{
		{"no attributes, change", a(), Float(20.1), 1, true, -1},
		{"no attributes, no change", a(), Float(20), 100, false, -1},
		{"pmin holds a change back", a("pmin=10"), Float(21), 3, false, 10},
		{"pmin passed", a("pmin=10"), Float(21), 10, true, -1},
		{"pmax without change, early", a("pmax=60"), Float(20), 30, false, 60},
		{"pmax without change, due", a("pmax=60"), Float(20), 60, true, -1},
		{"pmax below pmin is ignored", a("pmin=30", "pmax=10"), Float(20), 20, false, -1},
		{"pmax 0 is ignored", a("pmax=0"), Float(20), 20, false, -1},
		{"gt crossed upward", a("gt=25"), Float(26), 1, true, -1},
		{"gt crossed downward", a("gt=19"), Float(18), 1, true, -1},
		{"gt not crossed", a("gt=25"), Float(24), 1, false, -1},
		{"gt not crossed, pmax due later", a("gt=25", "pmax=60"), Float(24), 1, false, 60},
		{"lt crossed", a("lt=19.5"), Float(19), 1, true, -1},
		{"st reached", a("st=0.5"), Float(20.5), 1, true, -1},
		{"st not reached", a("st=0.5"), Float(20.4), 1, false, -1},
		{"st reached within pmin", a("st=0.5", "pmin=5"), Float(19), 2, false, 5},
		{"thresholds do not apply to strings", a("gt=25"), String("x"), 1, true, -1},
	} {
		send, next := c.attrs.Notify(last, c.cur, at(c.now))
		wantNext := time.Time{}
		if c.next >= 0 {
			wantNext = at(c.next)
		}
		if send != c.send || !next.Equal(wantNext) {
			t.Errorf("%s: Notify = %v, %v, want %v, %v", c.name, send, next, c.send, wantNext)
		}
	}
}
