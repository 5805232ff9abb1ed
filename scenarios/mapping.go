package scenarios

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fieldSet is a struct's fields by YAML key, in declaration order.
type fieldSet struct {
	names []string
	index map[string]int
}

func (d *decoder) fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := d.fields[t]; ok {
		return fs
	}
	fs := &fieldSet{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fs.names = append(fs.names, name)
		fs.index[name] = i
	}
	d.fields[t] = fs
	return fs
}

// pair is a mapping entry.
type pair struct{ key, val *yaml.Node }

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, fmt.Sprintf("must be a mapping, got %s", describe(n)))
		return
	}
	fs := d.fieldsOf(v.Type())
	for _, p := range d.pairs(n, path) {
		i, ok := fs.index[p.key.Value]
		if !ok {
			d.addAt(p.key, path, unknownKey(p.key.Value, fs.names))
			continue
		}
		d.value(p.val, join(path, p.key.Value), v.Field(i))
	}
}

// pairs lists n's entries with merge keys ("<<: *defaults") expanded: an
// entry written in n wins over a merged one, and an earlier merged mapping
// over a later one, as YAML's merge key type says.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var own, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, d.merge(v, path)...)
		case k.Kind != yaml.ScalarNode:
			d.addAt(k, path, fmt.Sprintf("keys must be plain strings, got %s", describe(k)))
		case first[k.Value] != nil:
			d.addAt(k, path, fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, first[k.Value].Line))
		default:
			first[k.Value] = k
			own = append(own, pair{k, v})
		}
	}
	for _, p := range merged {
		if first[p.key.Value] == nil {
			first[p.key.Value] = p.key
			own = append(own, p)
		}
	}
	return own
}

// merge returns the entries a merge key's value brings in: a mapping or a
// list of mappings, usually through aliases.
func (d *decoder) merge(v *yaml.Node, path string) []pair {
	if v.Kind == yaml.SequenceNode {
		var out []pair
		for _, c := range v.Content {
			out = append(out, d.mergeOne(c, path)...)
		}
		return out
	}
	return d.mergeOne(v, path)
}

func (d *decoder) mergeOne(v *yaml.Node, path string) []pair {
	if d.stopped {
		return nil
	}
	if v.Kind == yaml.AliasNode {
		target := v.Alias
		if target == nil || d.expanding[target] {
			d.addAt(v, path, fmt.Sprintf("alias *%s is used inside its own anchor", v.Value))
			return nil
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		v = target
	}
	if !d.charge(v, path) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		d.addAt(v, path, fmt.Sprintf("<< must merge a mapping or a list of mappings, got %s", describe(v)))
		return nil
	}
	return d.pairs(v, path)
}

// unknownKey describes a key the schema does not have, suggesting the
// closest known key when one is near.
func unknownKey(key string, known []string) string {
	best, dist := "", 2
	if len(key) <= 4 {
		dist = 1
	}
	for _, k := range known {
		if e := editDistance(strings.ToLower(key), k); e <= dist {
			best, dist = k, e
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Sprintf("unknown key %q; known keys: %s", key, strings.Join(known, ", "))
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of adjacent bytes that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return len(a) + len(b)
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
