package lwm2m

import (
	"strconv"
	"strings"
)

// NewInstance is the instance id a decoder gives to resources that came
// without one: a Create whose TLV payload holds bare resources leaves the
// choice of id to the client (Core §5.4.5). LwM2M reserves 65535 (MAX_ID)
// for this kind of use, so it never names a real instance; ParsePath
// rejects it.
const NewInstance uint16 = 65535

// Path names a node of the object tree: the root (depth 0), an object
// (/3), an object instance (/3/0), a resource (/3/0/7) or a resource
// instance (/3/0/7/1). The zero Path is the root. Paths are comparable
// with ==.
type Path struct {
	ids   [4]uint16
	depth uint8
}

// ObjectPath returns /o.
func ObjectPath(o uint16) Path { return Path{ids: [4]uint16{o}, depth: 1} }

// InstancePath returns /o/i.
func InstancePath(o, i uint16) Path { return Path{ids: [4]uint16{o, i}, depth: 2} }

// ResourcePath returns /o/i/r.
func ResourcePath(o, i, r uint16) Path { return Path{ids: [4]uint16{o, i, r}, depth: 3} }

// ResourceInstancePath returns /o/i/r/ri.
func ResourceInstancePath(o, i, r, ri uint16) Path {
	return Path{ids: [4]uint16{o, i, r, ri}, depth: 4}
}

// Depth returns 0 for the root, 1 for an object, 2 for an object
// instance, 3 for a resource and 4 for a resource instance.
func (p Path) Depth() int { return int(p.depth) }

// ID returns the id at level (0 object, 1 instance, 2 resource, 3
// resource instance), or 0 when the path is not that deep.
func (p Path) ID(level int) uint16 {
	if level < 0 || level >= int(p.depth) {
		return 0
	}
	return p.ids[level]
}

// Object returns the object id.
func (p Path) Object() uint16 { return p.ID(0) }

// Instance returns the object instance id.
func (p Path) Instance() uint16 { return p.ID(1) }

// Resource returns the resource id.
func (p Path) Resource() uint16 { return p.ID(2) }

// ResourceInstance returns the resource instance id.
func (p Path) ResourceInstance() uint16 { return p.ID(3) }

// Child returns p extended by id. The child of a resource instance path
// is the path itself: there is nothing below it.
func (p Path) Child(id uint16) Path {
	if p.depth == 4 {
		return p
	}
	p.ids[p.depth] = id
	p.depth++
	return p
}

// Parent returns the path one level up; the root is its own parent.
func (p Path) Parent() Path {
	if p.depth == 0 {
		return p
	}
	p.depth--
	p.ids[p.depth] = 0
	return p
}

// Truncate returns the first depth levels of p (all of p when it is not
// that deep).
func (p Path) Truncate(depth int) Path {
	for int(p.depth) > max(depth, 0) {
		p.depth--
		p.ids[p.depth] = 0
	}
	return p
}

// Under reports whether p is base or lies below it.
func (p Path) Under(base Path) bool {
	if p.depth < base.depth {
		return false
	}
	for i := range base.depth {
		if p.ids[i] != base.ids[i] {
			return false
		}
	}
	return true
}

// Compare orders paths depth-first, parents before children:
// /3 < /3/0 < /3/0/7 < /3/0/7/0 < /3/0/8 < /4. It returns -1, 0 or +1.
func (p Path) Compare(q Path) int {
	n := min(p.depth, q.depth)
	for i := range n {
		if p.ids[i] != q.ids[i] {
			if p.ids[i] < q.ids[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case p.depth < q.depth:
		return -1
	case p.depth > q.depth:
		return 1
	}
	return 0
}

// String returns the path as LwM2M writes it: "/" for the root, else
// "/3/0/7".
func (p Path) String() string {
	if p.depth == 0 {
		return "/"
	}
	return string(p.AppendText(make([]byte, 0, 24)))
}

// AppendText appends the path as String writes it to b.
func (p Path) AppendText(b []byte) []byte {
	if p.depth == 0 {
		return append(b, '/')
	}
	for i := range p.depth {
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(p.ids[i]), 10)
	}
	return b
}

// PathError reports text that is not an LwM2M path. Match it with
// errors.As and a *PathError target.
type PathError struct {
	Path   string // the text given
	Reason string
}

// Error says what is wrong with which path.
func (e *PathError) Error() string {
	return "lwm2m: invalid path " + strconv.Quote(e.Path) + ": " + e.Reason
}

// ParsePath parses "/", "/3", "/3/0", "/3/0/7" or "/3/0/7/1". Ids are
// decimal without sign or leading zeros, at most 65534 (65535 is
// reserved); there are at most four and no trailing slash, so every path
// has one spelling and String(ParsePath(s)) == s.
func ParsePath(s string) (Path, error) {
	if s == "/" {
		return Path{}, nil
	}
	if !strings.HasPrefix(s, "/") {
		return Path{}, &PathError{s, "no leading slash"}
	}
	var p Path
	for seg := range strings.SplitSeq(s[1:], "/") {
		if p.depth == 4 {
			return Path{}, &PathError{s, "more than four ids"}
		}
		id, err := parseID(seg)
		if err != nil {
			return Path{}, &PathError{s, err.Error()}
		}
		p = p.Child(id)
	}
	return p, nil
}

// ParseSegments builds a path from CoAP Uri-Path segments: ["3", "0"]
// is /3/0, none is the root.
func ParseSegments(segs []string) (Path, error) {
	if len(segs) > 4 {
		return Path{}, &PathError{"/" + strings.Join(segs, "/"), "more than four ids"}
	}
	var p Path
	for _, seg := range segs {
		id, err := parseID(seg)
		if err != nil {
			return Path{}, &PathError{"/" + strings.Join(segs, "/"), err.Error()}
		}
		p = p.Child(id)
	}
	return p, nil
}

type idError string

func (e idError) Error() string { return string(e) }

func parseID(seg string) (uint16, error) {
	switch {
	case seg == "":
		return 0, idError("empty segment")
	case len(seg) > 1 && seg[0] == '0':
		return 0, idError("leading zero in " + strconv.Quote(seg))
	case len(seg) > 5:
		return 0, idError("id " + strconv.Quote(seg) + " out of range")
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return 0, idError("segment " + strconv.Quote(seg) + " is not a number")
		}
		n = n*10 + int(c-'0')
	}
	if n >= int(NewInstance) {
		return 0, idError("id " + seg + " out of range (max 65534)")
	}
	return uint16(n), nil
}
