package scenarios

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a scenario, at a position in its file.
// Line and Col are 1-based; Col counts characters, as YAML does.
type Problem struct {
	File      string
	Line, Col int
	// Path is the YAML path of the value, such as "groups[0].telemetry.qos";
	// empty for the document itself.
	Path string
	Msg  string
}

// String formats p as "file:line:col: path: msg", leaving out the path when
// it is empty.
func (p Problem) String() string {
	if p.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", p.File, p.Line, p.Col, p.Path, p.Msg)
}

// Problems is every problem found in a scenario, sorted by position. It is
// the error Parse and Load return for a scenario that is not valid.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// sorted drops exact repeats (an alias used twice repeats the problems of
// its anchor) and orders the rest by position, keeping the order they were
// found in for equal positions.
func (ps Problems) sorted() Problems {
	seen := make(map[Problem]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return out
}
