package scenarios

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/m2msim/m2msim/internal/spell"
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
		if e := spell.Distance(strings.ToLower(key), k); e <= dist {
			best, dist = k, e
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Sprintf("unknown key %q; known keys: %s", key, strings.Join(known, ", "))
}
