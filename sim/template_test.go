package sim

import (
	"encoding"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	_ encoding.TextMarshaler   = (*Template)(nil)
	_ encoding.TextUnmarshaler = (*Template)(nil)
)

// tmplVars is a full set of values with no "/" in them, so that every
// rendering stays within the levels Filter predicts.
func tmplVars() *Vars {
	return &Vars{
		ID:     "dev-7",
		Index:  3,
		Device: 42,
		Group:  "meters",
		Seq:    4294967295,
		Now:    time.Date(2024, 3, 1, 12, 34, 56, 789_000_000, time.FixedZone("CET", 3600)),
		Rand:   rand.New(rand.NewPCG(1, 2)),
		Track:  Token{Kind: TokenTelemetry, Device: 0xabcdef, Seq: 7, Intended: 1500 * time.Millisecond},
	}
}

func TestParseTemplate(t *testing.T) {
	good := []string{
		"", "plain/topic", "{{id}}", "a/{{ id }}/b", "{{id}}{{seq}}", "}}", "{", "{}", "x}}y",
		"{{id}}}", "{{\tgroup\n}}", "{{index}}{{device}}{{group}}{{seq}}{{ts}}{{time}}{{rand}}{{track}}",
	}
	for _, s := range good {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			t.Errorf("ParseTemplate(%q) = %v, want no error", s, err)
			continue
		}
		if got := tmpl.String(); got != s {
			t.Errorf("ParseTemplate(%q).String() = %q, want %q", s, got, s)
		}
	}

	bad := []struct {
		in, wantPrefix string
	}{
		{"{{", "offset 0: unclosed {{"},
		{"a/{{id", "offset 2: unclosed {{"},
		{"a/{{id}}/{{seq", "offset 9: unclosed {{"},
		{"{{nope}}", "offset 0: unknown placeholder {{nope}}"},
		{"ab{{ nope }}", "offset 2: unknown placeholder {{nope}}"},
		{"{{}}", "offset 0: unknown placeholder {{}}"},
		{"{{id}}x{{ID}}", "offset 7: unknown placeholder {{ID}}"},
		{"{{{id}}", "offset 0: unknown placeholder {{{id}}"},
		{"é{{x}}", "offset 2: unknown placeholder {{x}}"},
	}
	for _, c := range bad {
		tmpl, err := ParseTemplate(c.in)
		if err == nil || !strings.HasPrefix(err.Error(), c.wantPrefix) {
			t.Errorf("ParseTemplate(%q) = %v, want error starting %q", c.in, err, c.wantPrefix)
		}
		if tmpl != nil {
			t.Errorf("ParseTemplate(%q) returned template %q with an error, want nil", c.in, tmpl)
		}
	}
}

func TestMustTemplatePanics(t *testing.T) {
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.HasPrefix(s, "sim.MustTemplate: offset 0") {
			t.Errorf("MustTemplate(%q) panicked with %v, want sim.MustTemplate: offset 0 ...", "{{x", r)
		}
	}()
	MustTemplate("{{x")
}

func TestTemplateAppend(t *testing.T) {
	v := tmplVars()
	cases := []struct {
		tmpl, want string
	}{
		{"", ""},
		{"lit", "lit"},
		{"{{id}}", "dev-7"},
		{"{{index}}", "3"},
		{"{{device}}", "42"},
		{"{{group}}", "meters"},
		{"{{seq}}", "4294967295"},
		{"{{ts}}", "1709292896789"},
		{"{{time}}", "2024-03-01T11:34:56.789Z"},
		{"{{track}}", "m2mtabcdef00000007000016e360"},
		{"a/{{group}}/{{id}}/t", "a/meters/dev-7/t"},
		{`{"i":{{index}},"d":{{device}}}`, `{"i":3,"d":42}`},
	}
	for _, c := range cases {
		tmpl := MustTemplate(c.tmpl)
		if got := tmpl.Render(v); got != c.want {
			t.Errorf("MustTemplate(%q).Render = %q, want %q", c.tmpl, got, c.want)
		}
		if got := string(tmpl.Append([]byte("pre:"), v)); got != "pre:"+c.want {
			t.Errorf("MustTemplate(%q).Append(%q) = %q, want %q", c.tmpl, "pre:", got, "pre:"+c.want)
		}
	}
}

func TestTemplateAppendNegativeIndex(t *testing.T) {
	v := &Vars{Index: -1, Device: -20}
	if got, want := MustTemplate("{{index}}/{{device}}").Render(v), "-1/-20"; got != want {
		t.Errorf("Render(index -1, device -20) = %q, want %q", got, want)
	}
}

func TestTemplateRand(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{2}$`)
	tmpl := MustTemplate("{{rand}}")
	v := &Vars{Rand: rand.New(rand.NewPCG(1, 2))}
	twin := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		got := tmpl.Render(v)
		x := twin.Uint64N(10000)
		if want := fmt.Sprintf("%d.%02d", x/100, x%100); got != want {
			t.Fatalf("draw %d: Render({{rand}}) = %q, want %q", i, got, want)
		}
		f, err := strconv.ParseFloat(got, 64)
		if !shape.MatchString(got) || err != nil || f < 0 || f >= 100 {
			t.Fatalf("draw %d: Render({{rand}}) = %q, want two decimals in [0, 100)", i, got)
		}
	}
	if got := tmpl.Render(&Vars{}); got != "0.00" {
		t.Errorf("Render({{rand}}) with nil Rand = %q, want %q", got, "0.00")
	}
}

func TestTemplateUses(t *testing.T) {
	cases := []struct {
		tmpl, name string
		want       bool
	}{
		{"a/{{id}}/{{seq}}", "id", true},
		{"a/{{id}}/{{seq}}", "seq", true},
		{"a/{{id}}/{{seq}}", "ts", false},
		{"a/{{id}}/{{seq}}", "nope", false},
		{"a/{{id}}/{{seq}}", "", false},
		{"id/seq", "id", false},
		{"", "id", false},
		{"x{{ track }}", "track", true},
		{"{{rand}}", "rand", true},
	}
	for _, c := range cases {
		if got := MustTemplate(c.tmpl).Uses(c.name); got != c.want {
			t.Errorf("MustTemplate(%q).Uses(%q) = %v, want %v", c.tmpl, c.name, got, c.want)
		}
	}
}

func TestTemplatePerMessage(t *testing.T) {
	cases := []struct {
		tmpl string
		want bool
	}{
		{"", false},
		{"plain", false},
		{"{{id}}/{{index}}/{{device}}/{{group}}", false},
		{"{{seq}}", true},
		{"{{ts}}", true},
		{"{{time}}", true},
		{"{{rand}}", true},
		{"{{track}}", true},
		{"d/{{id}}/{{seq}}", true},
	}
	for _, c := range cases {
		if got := MustTemplate(c.tmpl).PerMessage(); got != c.want {
			t.Errorf("MustTemplate(%q).PerMessage() = %v, want %v", c.tmpl, got, c.want)
		}
	}
}

// filterMatches reports whether an MQTT filter made only of literal levels
// and "+" matches topic.
func filterMatches(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	if len(fl) != len(tl) {
		return false
	}
	for i := range fl {
		if fl[i] != "+" && fl[i] != tl[i] {
			return false
		}
	}
	return true
}

func TestTemplateFilter(t *testing.T) {
	cases := []struct {
		tmpl, want string
	}{
		{"", ""},
		{"plain/topic", "plain/topic"},
		{"a/{{id}}/x", "a/+/x"},
		{"dev-{{index}}/t", "+/t"},
		{"{{group}}", "+"},
		{"a/{{id}}", "a/+"},
		{"/{{id}}/", "/+/"},
		{"a/b{{seq}}c/{{ts}}", "a/+/+"},
		{"{{id}}/{{id}}", "+/+"},
		{"{{group}}{{index}}/x/{{time}}", "+/x/+"},
	}
	v := tmplVars()
	for _, c := range cases {
		tmpl := MustTemplate(c.tmpl)
		got := tmpl.Filter()
		if got != c.want {
			t.Errorf("MustTemplate(%q).Filter() = %q, want %q", c.tmpl, got, c.want)
		}
		if r := tmpl.Render(v); !filterMatches(got, r) {
			t.Errorf("MustTemplate(%q).Filter() = %q does not match its rendering %q", c.tmpl, got, r)
		}
	}
}

func TestTemplateTextRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a/{{ id }}/{{seq}}", `{"k":"{{track}}","t":"{{time}}"}`} {
		orig := MustTemplate(s)
		b, err := orig.MarshalText()
		if err != nil || string(b) != s {
			t.Errorf("MustTemplate(%q).MarshalText() = %q, %v, want %q, nil", s, b, err, s)
		}
		var back Template
		if err := back.UnmarshalText(b); err != nil {
			t.Errorf("UnmarshalText(%q) = %v, want nil", b, err)
			continue
		}
		got, want := back.Render(tmplVars()), orig.Render(tmplVars())
		if back.String() != s || got != want {
			t.Errorf("UnmarshalText(%q) = %q rendering %q, want %q rendering %q", b, back.String(), got, s, want)
		}
	}
}

func TestTemplateUnmarshalTextKeepsOldOnError(t *testing.T) {
	tmpl := MustTemplate("a/{{id}}")
	if err := tmpl.UnmarshalText([]byte("b/{{nope}}")); err == nil {
		t.Errorf("UnmarshalText(%q) = nil, want error", "b/{{nope}}")
	}
	if got := tmpl.String(); got != "a/{{id}}" {
		t.Errorf("after a failed UnmarshalText, String() = %q, want %q", got, "a/{{id}}")
	}
}

func TestTemplateJSONRoundTrip(t *testing.T) {
	type doc struct{ Topic *Template }
	in := doc{Topic: MustTemplate("a/{{id}}/\"q\"")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("json.Marshal(%q) = %v", in.Topic, err)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	if out.Topic == nil || out.Topic.String() != in.Topic.String() || out.Topic.Filter() != "a/+/\"q\"" {
		t.Errorf("json round trip of %q = %v, want the same template", in.Topic, out.Topic)
	}
	if err := json.Unmarshal([]byte(`{"Topic":"{{"}`), &out); err == nil {
		t.Errorf("json.Unmarshal(%s) = nil, want the template error", `{"Topic":"{{"}`)
	}
}

const benchPayload = `{"id":"{{id}}","i":{{index}},"seq":{{seq}},"ts":{{ts}},"t":"{{time}}","v":{{rand}},"k":"{{track}}"}`

func TestTemplateAppendAllocs(t *testing.T) {
	tmpl, v := MustTemplate(benchPayload), tmplVars()
	dst := tmpl.Append(nil, v)
	if n := testing.AllocsPerRun(100, func() { dst = tmpl.Append(dst[:0], v) }); n != 0 {
		t.Errorf("Append into a reused dst: %v allocs per run, want 0", n)
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	tmpl, v := MustTemplate(benchPayload), tmplVars()
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		v.Seq++
		dst = tmpl.Append(dst[:0], v)
	}
	b.SetBytes(int64(len(dst)))
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"", "a/b", "{{id}}", "a/{{ seq }}/{{", "{{nope}}", "}}{{", "{{{{id}}}}", benchPayload, "\x00/{{ts}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			var off int
			if _, e := fmt.Sscanf(err.Error(), "offset %d:", &off); e != nil || off < 0 || !strings.HasPrefix(s[off:], "{{") {
				t.Fatalf("ParseTemplate(%q) = %v, want an offset that points at {{", s, err)
			}
			return
		}
		if tmpl.String() != s {
			t.Fatalf("ParseTemplate(%q).String() = %q, want the input", s, tmpl.String())
		}
		r := tmpl.Render(tmplVars())
		if !strings.Contains(s, "{{") && r != s {
			t.Fatalf("ParseTemplate(%q).Render = %q, want the input (no placeholders)", s, r)
		}
		flt := tmpl.Filter()
		if strings.Count(flt, "/") != strings.Count(s, "/") || !filterMatches(flt, r) {
			t.Fatalf("ParseTemplate(%q).Filter() = %q, want the input's levels matching %q", s, flt, r)
		}
	})
}
