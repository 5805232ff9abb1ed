package lwm2m

import (
	"strconv"
	"strings"
)

// Link is one link-value of CoRE link format (RFC 6690 §2): a target
// between angle brackets and its attributes, as Register payloads and
// Discover answers carry them: </3/0/7>;dim=2;pmin=10.
type Link struct {
	Target string // the URI-reference, e.g. "/3/0"
	Attrs  []Attr
}

// Attr is one link parameter. An attribute with no value (";obs") has
// Value "" and Quoted false; ";a=\"\"" has Value "" and Quoted true.
type Attr struct {
	Name   string
	Value  string // unquoted and unescaped
	Quoted bool   // written as a quoted-string (values that are not tokens always are)
}

// Attr returns the value of the first attribute called name, and whether
// there is one.
func (l Link) Attr(name string) (string, bool) {
	for _, a := range l.Attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// LinkError reports text that is not CoRE link format. Match it with
// errors.As and a *LinkError target.
type LinkError struct {
	Offset int // byte offset of the problem
	Reason string
}

// Error says what is wrong where.
func (e *LinkError) Error() string {
	return "lwm2m: link format at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// AppendLinks appends links in link format, separated by commas. A
// value is quoted when Quoted says so or when it is not a ptoken.
func AppendLinks(b []byte, links []Link) []byte {
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '<'), l.Target...), '>')
		for _, a := range l.Attrs {
			b = appendAttr(append(b, ';'), a)
		}
	}
	return b
}

func appendAttr(b []byte, a Attr) []byte {
	b = append(b, a.Name...)
	switch {
	case a.Value == "" && !a.Quoted:
		return b
	case !a.Quoted && isPtoken(a.Value):
		return append(append(b, '='), a.Value...)
	}
	b = append(b, '=', '"')
	for i := 0; i < len(a.Value); i++ {
		if c := a.Value[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, a.Value[i])
	}
	return append(b, '"')
}

// ParseLinks parses link format. It follows RFC 6690's grammar, and
// also takes the whitespace some peers put after a comma.
func ParseLinks(b []byte) ([]Link, error) {
	p := linkParser{s: string(b)}
	var links []Link
	for p.i < len(p.s) {
		if len(links) > 0 {
			if err := p.expect(','); err != nil {
				return nil, err
			}
			p.skipSpace()
		}
		l, err := p.link()
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}

type linkParser struct {
	s string
	i int
}

func (p *linkParser) fail(reason string) error { return &LinkError{Offset: p.i, Reason: reason} }

func (p *linkParser) expect(c byte) error {
	if p.i >= len(p.s) || p.s[p.i] != c {
		return p.fail("expected " + strconv.QuoteRune(rune(c)))
	}
	p.i++
	return nil
}

func (p *linkParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *linkParser) link() (Link, error) {
	if err := p.expect('<'); err != nil {
		return Link{}, err
	}
	start := p.i
	for p.i < len(p.s) && isURIChar(p.s[p.i]) {
		p.i++
	}
	l := Link{Target: p.s[start:p.i]}
	if err := p.expect('>'); err != nil {
		return Link{}, err
	}
	for p.i < len(p.s) && p.s[p.i] == ';' {
		p.i++
		a, err := p.attr()
		if err != nil {
			return Link{}, err
		}
		l.Attrs = append(l.Attrs, a)
	}
	return l, nil
}

func (p *linkParser) attr() (Attr, error) {
	start := p.i
	for p.i < len(p.s) && isParmChar(p.s[p.i]) {
		p.i++
	}
	a := Attr{Name: p.s[start:p.i]}
	if a.Name == "" {
		return Attr{}, p.fail("empty parameter name")
	}
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return a, nil
	}
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '"' {
		v, err := p.quoted()
		a.Value, a.Quoted = v, true
		return a, err
	}
	start = p.i
	for p.i < len(p.s) && isPtokenChar(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		return Attr{}, p.fail("empty value of " + strconv.Quote(a.Name))
	}
	a.Value = p.s[start:p.i]
	return a, nil
}

// quoted reads a quoted-string, undoing backslash escapes.
func (p *linkParser) quoted() (string, error) {
	p.i++ // the opening quote
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), nil
		case c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] >= 0x20 && p.s[p.i+1] != 0x7f:
			sb.WriteByte(p.s[p.i+1])
			p.i += 2
		case c < 0x20 || c == 0x7f || c == '\\':
			return "", p.fail("invalid character in quoted string")
		default:
			sb.WriteByte(c)
			p.i++
		}
	}
	return "", p.fail("unterminated quoted string")
}

// isURIChar accepts the characters of a URI-reference (RFC 3986):
// printable ASCII except space, quotes, backslash and angle brackets.
func isURIChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune("<>\"\\{}|^`", rune(c))
}

// isParmChar accepts the characters of a parmname (RFC 8288 attr-char).
func isParmChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// isPtokenChar accepts the characters of a ptoken (RFC 6690 §2).
func isPtokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) >= 0
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isPtoken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isPtokenChar(s[i]) {
			return false
		}
	}
	return true
}
