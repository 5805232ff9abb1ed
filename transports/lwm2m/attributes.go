package lwm2m

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// AttrSet says which notification attributes an Attributes holds.
type AttrSet uint8

// The notification attributes (Core §5.1.2).
const (
	HasPMin AttrSet = 1 << iota // pmin: minimum period between notifications
	HasPMax                     // pmax: maximum period without one
	HasGT                       // gt: notify when the value crosses above or below it
	HasLT                       // lt: likewise
	HasST                       // st: notify when the value moved at least this far
)

// Attributes are the notification attributes set at one level of the
// tree (object, instance, resource, resource instance), or the effective
// ones of a resource after inheritance. Fields count only where Has says
// so.
type Attributes struct {
	Has        AttrSet
	PMin, PMax time.Duration // whole seconds on the wire
	GT, LT, ST float64
}

// Merge returns a with the attributes set in over replacing its own: how
// a lower level overrides a higher one.
func (a Attributes) Merge(over Attributes) Attributes {
	if over.Has&HasPMin != 0 {
		a.PMin = over.PMin
	}
	if over.Has&HasPMax != 0 {
		a.PMax = over.PMax
	}
	if over.Has&HasGT != 0 {
		a.GT = over.GT
	}
	if over.Has&HasLT != 0 {
		a.LT = over.LT
	}
	if over.Has&HasST != 0 {
		a.ST = over.ST
	}
	a.Has |= over.Has
	return a
}

// Clear returns a without the attributes in c.
func (a Attributes) Clear(c AttrSet) Attributes {
	a.Has &^= c
	return a
}

// check enforces the consistency Core §5.1.2 asks of one level: lt below
// gt, and lt + 2*st below gt when all three are set; pmax not below pmin.
func (a Attributes) check() error {
	if a.Has&(HasGT|HasLT) == HasGT|HasLT && a.LT >= a.GT {
		return badRequest("attributes: lt %g is not below gt %g", a.LT, a.GT)
	}
	if a.Has&(HasGT|HasLT|HasST) == HasGT|HasLT|HasST && a.LT+2*a.ST >= a.GT {
		return badRequest("attributes: lt + 2*st is not below gt")
	}
	if a.Has&(HasPMin|HasPMax) == HasPMin|HasPMax && a.PMax < a.PMin {
		return badRequest("attributes: pmax %v is below pmin %v", a.PMax, a.PMin)
	}
	return nil
}

// ParseAttributes parses the Uri-Query options of a Write-Attributes
// request: "pmin=10", "gt=20.5", and a bare "lt" to remove lt. It
// returns the attributes to set and those to clear. epmin, epmax and
// anything else are rejected with 4.00, as are read-only ones (dim,
// ver) and repeated names.
func ParseAttributes(query []string) (set Attributes, clear AttrSet, err error) {
	for _, q := range query {
		name, val, hasVal := strings.Cut(q, "=")
		bit, ok := attrBits[name]
		if !ok {
			return set, clear, badRequest("attributes: %q is not a writable attribute", clip(name))
		}
		if (set.Has|clear)&bit != 0 {
			return set, clear, badRequest("attributes: %s given twice", name)
		}
		if !hasVal {
			clear |= bit
			continue
		}
		if err := set.parse(bit, name, val); err != nil {
			return set, clear, err
		}
	}
	return set, clear, nil
}

var attrBits = map[string]AttrSet{"pmin": HasPMin, "pmax": HasPMax, "gt": HasGT, "lt": HasLT, "st": HasST}

func (a *Attributes) parse(bit AttrSet, name, val string) error {
	if bit == HasPMin || bit == HasPMax {
		n, err := strconv.ParseUint(val, 10, 31)
		if err != nil {
			return badRequest("attributes: %s %q is not a number of seconds", name, clip(val))
		}
		d := time.Duration(n) * time.Second
		if bit == HasPMin {
			a.PMin = d
		} else {
			a.PMax = d
		}
		a.Has |= bit
		return nil
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil || !finite(f) || (bit == HasST && f < 0) {
		return badRequest("attributes: %s %q is not a valid number", name, clip(val))
	}
	switch bit {
	case HasGT:
		a.GT = f
	case HasLT:
		a.LT = f
	default:
		a.ST = f
	}
	a.Has |= bit
	return nil
}

// AppendAttrs appends the attributes that are set as link attributes,
// in the order of the specification's Discover examples: pmin, pmax,
// gt, lt, st.
func (a Attributes) AppendAttrs(attrs []Attr) []Attr {
	if a.Has&HasPMin != 0 {
		attrs = append(attrs, Attr{Name: "pmin", Value: seconds(a.PMin)})
	}
	if a.Has&HasPMax != 0 {
		attrs = append(attrs, Attr{Name: "pmax", Value: seconds(a.PMax)})
	}
	for _, f := range [...]struct {
		bit  AttrSet
		name string
		v    float64
	}{{HasGT, "gt", a.GT}, {HasLT, "lt", a.LT}, {HasST, "st", a.ST}} {
		if a.Has&f.bit != 0 {
			attrs = append(attrs, Attr{Name: f.name, Value: strconv.FormatFloat(f.v, 'g', -1, 64)})
		}
	}
	return attrs
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// Notified is what an observation last sent: when, and which value.
type Notified struct {
	At    time.Time
	Value Value
}

// Notify decides, for an observation with these (effective) attributes
// that last notified last, whether the value cur must be notified at
// now (Core §5.1.2, §6.4.1):
//
//   - A value change that qualifies is notified once pmin has passed
//     since the last notification. Without gt, lt and st every change
//     qualifies; with them, a numeric change qualifies when it crosses gt
//     or lt (in either direction) or moves at least st from the value
//     last notified. The attributes do not apply to values that are not
//     numbers, which qualify on any change.
//   - Without a qualifying change, a notification is due pmax after the
//     last one. pmax is ignored when unset, 0, or below pmin.
//
// When send is false, next is when to ask again (at the end of pmin, or
// when pmax falls due); zero means only when the value changes. After a
// notification, the caller records it as the new last.
func (a Attributes) Notify(last Notified, cur Value, now time.Time) (send bool, next time.Time) {
	var pmin, pmax time.Duration
	if a.Has&HasPMin != 0 {
		pmin = a.PMin
	}
	if a.Has&HasPMax != 0 && a.PMax > 0 && a.PMax >= pmin {
		pmax = a.PMax
	}
	if a.qualifies(last.Value, cur) {
		if at := last.At.Add(pmin); now.Before(at) {
			return false, at
		}
		return true, time.Time{}
	}
	if pmax == 0 {
		return false, time.Time{}
	}
	if due := last.At.Add(pmax); now.Before(due) {
		return false, due
	}
	return true, time.Time{}
}

// qualifies reports whether a change from old to cur triggers a
// notification.
func (a Attributes) qualifies(old, cur Value) bool {
	if old == cur {
		return false
	}
	n, ok := cur.Number()
	o, okOld := old.Number()
	if a.Has&(HasGT|HasLT|HasST) == 0 || !ok || !okOld {
		return true
	}
	return a.Has&HasGT != 0 && (o > a.GT) != (n > a.GT) ||
		a.Has&HasLT != 0 && (o < a.LT) != (n < a.LT) ||
		a.Has&HasST != 0 && math.Abs(n-o) >= a.ST
}
