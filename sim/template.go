package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Template is a topic, client ID or payload with {{name}} placeholders,
// parsed once and rendered per message without allocation beyond dst.
//
// Placeholders: {{id}} client ID, {{index}} device index in its group,
// {{device}} fleet-wide device index, {{group}} group name, {{seq}} message
// sequence number, {{ts}} Unix time in ms, {{time}} RFC 3339 UTC time,
// {{rand}} a number in [0, 100) with two decimals from the device's random
// source, {{track}} the measurement token (see Token), {{track8}} the
// 8-byte short token (see Token.AppendShort) for radios with tiny payloads.
type Template struct {
	src  string
	segs []segment
}

type segment struct {
	lit string
	v   variable
}

type variable uint8

const (
	varNone variable = iota
	varID
	varIndex
	varDevice
	varGroup
	varSeq
	varTS
	varTime
	varRand
	varTrack
	varTrack8
)

var varNames = map[string]variable{
	"id": varID, "index": varIndex, "device": varDevice, "group": varGroup, "seq": varSeq,
	"ts": varTS, "time": varTime, "rand": varRand, "track": varTrack,
	"track8": varTrack8,
}

// Vars are the values a Template renders with.
type Vars struct {
	ID     string
	Index  int
	Device int
	Group  string
	Seq    uint32
	Now    time.Time
	Rand   *rand.Rand
	Track  Token
}

// TemplateError is a template syntax problem at a byte offset.
type TemplateError struct {
	Offset int
	Msg    string
}

// Error formats the problem with its offset.
func (e *TemplateError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// ParseTemplate parses s. Errors are *TemplateError. Placeholder values
// are assumed to hold no '/', '+' or '#' (see Filter).
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	rest, off := s, 0
	for rest != "" {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.segs = append(t.segs, segment{lit: rest})
			break
		}
		if i > 0 {
			t.segs = append(t.segs, segment{lit: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, &TemplateError{Offset: off + i, Msg: "unclosed {{"}
		}
		name := strings.TrimSpace(rest[i+2 : i+j])
		v, ok := varNames[name]
		if !ok {
			return nil, &TemplateError{Offset: off + i, Msg: fmt.Sprintf("unknown placeholder {{%s}}; known: id, index, device, group, seq, ts, time, rand, track, track8", name)}
		}
		t.segs = append(t.segs, segment{v: v})
		off += i + j + 2
		rest = rest[i+j+2:]
	}
	return t, nil
}

// MustTemplate is ParseTemplate for constants; it panics on error.
func MustTemplate(s string) *Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic("sim.MustTemplate: " + err.Error())
	}
	return t
}

// UnmarshalText parses a template from text.
func (t *Template) UnmarshalText(b []byte) error {
	v, err := ParseTemplate(string(b))
	if err != nil {
		return err
	}
	*t = *v
	return nil
}

// MarshalText returns the template's source.
func (t *Template) MarshalText() ([]byte, error) {
	if t == nil {
		return nil, nil
	}
	return []byte(t.src), nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Uses reports whether the template has the placeholder name.
func (t *Template) Uses(name string) bool {
	want, ok := varNames[name]
	for _, s := range t.segs {
		if ok && s.v == want {
			return true
		}
	}
	return false
}

// PerMessage reports whether rendering depends on more than the device:
// a sequence number, the time, randomness or the token.
func (t *Template) PerMessage() bool {
	for _, s := range t.segs {
		switch s.v {
		case varSeq, varTS, varTime, varRand, varTrack, varTrack8:
			return true
		}
	}
	return false
}

// Filter returns the MQTT topic filter matching every rendering of a topic
// template: each level that holds a placeholder becomes "+".
func (t *Template) Filter() string { return t.filter(nil) }

// DeviceFilter returns the topic filter matching every rendering for one
// device: placeholders of the device (id, index, device, group) are
// rendered with v, and each level that holds another becomes "+".
func (t *Template) DeviceFilter(v *Vars) string { return t.filter(v) }

func (t *Template) filter(v *Vars) string {
	var b []byte
	for _, s := range t.segs {
		switch {
		case s.v == varNone:
			b = append(b, s.lit...)
		case v != nil && (s.v == varID || s.v == varIndex || s.v == varDevice || s.v == varGroup):
			b = (&Template{segs: []segment{s}}).Append(b, v)
		default:
			b = append(b, 0)
		}
	}
	levels := strings.Split(string(b), "/")
	for i, l := range levels {
		if strings.IndexByte(l, 0) >= 0 {
			levels[i] = "+"
		}
	}
	return strings.Join(levels, "/")
}

// Append renders t with v onto dst.
func (t *Template) Append(dst []byte, v *Vars) []byte {
	for _, s := range t.segs {
		switch s.v {
		case varNone:
			dst = append(dst, s.lit...)
		case varID:
			dst = append(dst, v.ID...)
		case varIndex:
			dst = strconv.AppendInt(dst, int64(v.Index), 10)
		case varDevice:
			dst = strconv.AppendInt(dst, int64(v.Device), 10)
		case varGroup:
			dst = append(dst, v.Group...)
		case varSeq:
			dst = strconv.AppendUint(dst, uint64(v.Seq), 10)
		case varTS:
			dst = strconv.AppendInt(dst, v.Now.UnixMilli(), 10)
		case varTime:
			dst = v.Now.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		case varRand:
			var x uint64
			if v.Rand != nil {
				x = v.Rand.Uint64N(10000)
			}
			dst = strconv.AppendUint(dst, x/100, 10)
			dst = append(dst, '.', byte('0'+x/10%10), byte('0'+x%10))
		case varTrack:
			dst = v.Track.Append(dst)
		case varTrack8:
			dst = v.Track.AppendShort(dst)
		}
	}
	return dst
}

// Render renders t with v as a string.
func (t *Template) Render(v *Vars) string { return string(t.Append(nil, v)) }
