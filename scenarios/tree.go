package scenarios

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tree records where each value of a document was written, so problems
// found after decoding (defaults, cross-field rules) still get positions.
type tree struct {
	src *source
	// nodes maps a YAML path ("groups[0].connect.rate", "" for the root)
	// to the node its value was written at.
	nodes map[string]*yaml.Node
	// bad holds the paths whose values did not decode; later rules skip
	// them rather than repeat the problem in other words.
	bad   map[string]bool
	probs Problems
}

// has reports whether path was given a value other than null.
func (t *tree) has(path string) bool {
	n, ok := t.nodes[path]
	if ok && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return ok && n != nil && !isNull(n)
}

// node returns the node written for path, or for its nearest ancestor
// when path was not written (a missing or defaulted value).
func (t *tree) node(path string) *yaml.Node {
	for {
		if n, ok := t.nodes[path]; ok {
			return n
		}
		if path == "" {
			return nil
		}
		path = parent(path)
	}
}

// add records a problem with the value at path, unless that value
// already failed to decode.
func (t *tree) add(path, format string, args ...any) {
	if !t.bad[path] {
		t.addAt(t.node(path), path, fmt.Sprintf(format, args...))
	}
}

// addAt records a problem at node n (nil for the start of the file).
func (t *tree) addAt(n *yaml.Node, path, msg string) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	t.probs = append(t.probs, t.src.problem(line, col, path, msg))
}

// parent strips the last key or index from a YAML path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// join appends key to a YAML path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node holds, for "got ..." in problems.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:37]) + "..."
	}
	if n.ShortTag() == "!!str" {
		return fmt.Sprintf("%q", v)
	}
	return v
}
