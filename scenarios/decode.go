package scenarios

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/m2msim/m2msim/sim"
)

// maxAliasVisits bounds the values decoded through aliases, so a document
// whose aliases multiply one another (a billion laughs) costs a bounded
// amount of work and reports one problem.
const maxAliasVisits = 10_000

var (
	durationType        = reflect.TypeFor[time.Duration]()
	templateType        = reflect.TypeFor[sim.Template]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// parseYAML parses data, which must hold one YAML document whose root is
// a mapping.
func parseYAML(src *source, data []byte) (root *yaml.Node, p Problem, ok bool) {
	defer func() {
		// The yaml package panics on a few inputs it considers internal
		// errors; they are syntax errors to the user.
		if r := recover(); r != nil {
			root, p, ok = nil, src.problem(1, 1, "", fmt.Sprintf("cannot parse YAML: %v", r)), false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, src.problem(1, 1, "", "empty document; a scenario starts with version: 1"), false
	case err != nil:
		return nil, src.syntax(err), false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, src.problem(next.Line, next.Column, "", "a scenario file holds one YAML document; found a second"), false
	case !errors.Is(err, io.EOF):
		return nil, src.syntax(err), false
	}
	root = &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	switch {
	case isNull(root):
		return nil, src.problem(root.Line, root.Column, "", "empty document; a scenario starts with version: 1"), false
	case root.Kind != yaml.MappingNode:
		return nil, src.problem(root.Line, root.Column, "", fmt.Sprintf("a scenario is a mapping of keys such as version: 1, got %s", describe(root))), false
	}
	return root, Problem{}, true
}

// decoder decodes a yaml.Node tree into Go values strictly, recording
// every problem rather than stopping at the first.
type decoder struct {
	*tree
	fields map[reflect.Type]*fieldSet
	// expanding holds the anchors being decoded through an alias, to catch
	// an anchor that contains an alias to itself.
	expanding   map[*yaml.Node]bool
	aliasVisits int
	// stopped is set when the alias budget is spent; decoding ends.
	stopped bool
}

func newDecoder(src *source) *decoder {
	return &decoder{
		tree:      &tree{src: src, nodes: map[string]*yaml.Node{}, bad: map[string]bool{}},
		fields:    map[reflect.Type]*fieldSet{},
		expanding: map[*yaml.Node]bool{},
	}
}

// decode decodes n into out, a pointer.
func (d *decoder) decode(n *yaml.Node, path string, out any) {
	d.value(n, path, reflect.ValueOf(out).Elem())
}

// value decodes n, written at path, into v. A null leaves v as it is, so
// defaults can tell a missing value from a zero one.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if d.stopped {
		return
	}
	d.nodes[path] = n
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil || d.expanding[target] {
			d.fail(n, path, fmt.Sprintf("alias *%s is used inside its own anchor", n.Value))
			return
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		n = target
	}
	if !d.charge(n, path) || isNull(n) {
		return
	}
	d.resolved(n, path, v)
}

// charge counts a value decoded through an alias against the budget.
func (d *decoder) charge(n *yaml.Node, path string) bool {
	if len(d.expanding) == 0 {
		return true
	}
	d.aliasVisits++
	if d.aliasVisits > maxAliasVisits && !d.stopped {
		d.stopped = true
		d.addAt(n, path, fmt.Sprintf("aliases expand to more than %d values; stopped decoding", maxAliasVisits))
	}
	return !d.stopped
}

func (d *decoder) resolved(n *yaml.Node, path string, v reflect.Value) {
	if v.Kind() != reflect.Pointer && reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		d.text(n, path, v)
		return
	}
	if v.Type() == durationType {
		d.duration(n, path, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.resolved(n, path, e.Elem())
		if !d.bad[path] {
			v.Set(e)
		}
	case reflect.Struct:
		d.mapping(n, path, v)
	case reflect.Slice:
		d.sequence(n, path, v)
	case reflect.String:
		if d.scalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Int, reflect.Int64:
		d.integer(n, path, v)
	case reflect.Uint64:
		d.unsigned(n, path, v)
	case reflect.Bool:
		d.boolean(n, path, v)
	case reflect.Float64:
		d.float(n, path, v)
	default:
		panic("scenarios: no decoder for " + v.Type().String())
	}
}

// scalar reports whether n is a scalar, recording a problem if not.
func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	d.fail(n, path, fmt.Sprintf("must be %s, got %s", want, describe(n)))
	return false
}

func (d *decoder) integer(n *yaml.Node, path string, v reflect.Value) {
	var x int64
	if !d.scalar(n, path, "a whole number") {
		return
	}
	if n.ShortTag() != "!!int" || n.Decode(&x) != nil || v.OverflowInt(x) {
		d.fail(n, path, fmt.Sprintf("must be a whole number, got %s", describe(n)))
		return
	}
	v.SetInt(x)
}

func (d *decoder) unsigned(n *yaml.Node, path string, v reflect.Value) {
	var x uint64
	if !d.scalar(n, path, "a whole number") {
		return
	}
	if n.ShortTag() != "!!int" || n.Decode(&x) != nil {
		d.fail(n, path, fmt.Sprintf("must be a whole number from 0 to %d, got %s", uint64(1<<64-1), describe(n)))
		return
	}
	v.SetUint(x)
}

func (d *decoder) float(n *yaml.Node, path string, v reflect.Value) {
	var x float64
	if !d.scalar(n, path, "a number") {
		return
	}
	tag := n.ShortTag()
	if (tag != "!!float" && tag != "!!int") || n.Decode(&x) != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		d.fail(n, path, fmt.Sprintf("must be a number, got %s", describe(n)))
		return
	}
	v.SetFloat(x)
}

func (d *decoder) boolean(n *yaml.Node, path string, v reflect.Value) {
	var b bool
	if !d.scalar(n, path, "true or false") {
		return
	}
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.fail(n, path, fmt.Sprintf("must be true or false, got %s", describe(n)))
		return
	}
	v.SetBool(b)
}

func (d *decoder) duration(n *yaml.Node, path string, v reflect.Value) {
	if !d.scalar(n, path, "a duration") {
		return
	}
	x, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		d.fail(n, path, fmt.Sprintf("must be a duration such as 30s, 150ms or 2m, got %s", describe(n)))
		return
	}
	v.SetInt(int64(x))
}

// text decodes a scalar through v's UnmarshalText. A template's errors
// carry a byte offset, which becomes a column inside the scalar.
func (d *decoder) text(n *yaml.Node, path string, v reflect.Value) {
	if !d.scalar(n, path, "a string") {
		return
	}
	err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value))
	if err == nil {
		return
	}
	msg := err.Error()
	line, col := n.Line, n.Column
	if v.Type() == templateType {
		if off, rest, ok := templateOffset(msg); ok {
			line, col = d.src.scalarPos(n, off)
			msg = rest
		}
	}
	d.bad[path] = true
	d.probs = append(d.probs, d.src.problem(line, col, path, msg))
}

// fail records that the value at path did not decode.
func (d *decoder) fail(n *yaml.Node, path, msg string) {
	d.bad[path] = true
	d.addAt(n, path, msg)
}

// templateOffset splits sim.ParseTemplate's "offset N: msg" errors. The
// offset is only available in the text; sim has no error type for it.
func templateOffset(msg string) (int, string, bool) {
	rest, ok := strings.CutPrefix(msg, "offset ")
	if !ok {
		return 0, msg, false
	}
	num, text, ok := strings.Cut(rest, ": ")
	off, err := strconv.Atoi(num)
	if !ok || err != nil {
		return 0, msg, false
	}
	return off, text, true
}

func (d *decoder) sequence(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, fmt.Sprintf("must be a list, got %s", describe(n)))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.value(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
	}
	v.Set(s)
}
