package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// source is a scenario's text split into lines the way YAML counts them,
// to keep reported positions inside the text and to find columns YAML does
// not give.
type source struct {
	file  string
	lines []string
}

const bom = "\uFEFF"

// newSource splits data at YAML line breaks: CR LF, CR, LF, NEL, LS and PS.
func newSource(file string, data []byte) *source {
	s := &source{file: file}
	text := strings.TrimPrefix(string(data), bom)
	start := 0
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		if r != '\r' && r != '\n' && r != '\u0085' && r != '\u2028' && r != '\u2029' {
			i += w
			continue
		}
		s.lines = append(s.lines, text[start:i])
		if r == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			w++
		}
		i += w
		start = i
	}
	s.lines = append(s.lines, text[start:])
	return s
}

// line returns line n (1-based), or "" when there is none.
func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return s.lines[n-1]
}

// problem returns a Problem at line, col, moved inside the text if needed:
// a position YAML reports at the end of input may be past the last line.
func (s *source) problem(line, col int, path, msg string) Problem {
	line = min(max(line, 1), len(s.lines))
	col = min(max(col, 1), utf8.RuneCountInString(s.lines[line-1])+1)
	return Problem{File: s.file, Line: line, Col: col, Path: path, Msg: msg}
}

// badChar finds the first byte sequence YAML refuses to read: invalid
// UTF-8 or a character outside YAML's printable set.
func (s *source) badChar() (Problem, bool) {
	for n, l := range s.lines {
		col := 1
		for i := 0; i < len(l); col++ {
			r, w := utf8.DecodeRuneInString(l[i:])
			switch {
			case r == utf8.RuneError && w == 1:
				return s.problem(n+1, col, "", fmt.Sprintf("invalid UTF-8 byte 0x%02x; scenarios are UTF-8 text", l[i])), true
			case !yamlPrintable(r):
				return s.problem(n+1, col, "", fmt.Sprintf("control character %U is not allowed", r)), true
			}
			i += w
		}
	}
	return Problem{}, false
}

// yamlPrintable reports whether YAML accepts r in a stream (YAML 1.2, 5.1).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r == 0x85 ||
		(r >= 0x20 && r <= 0x7E) || (r >= 0xA0 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// parserProblems are the yaml package's parser (not scanner) errors. It
// reports their line 0-based, so they need one added; scanner errors come
// 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntax turns a yaml parse error into a positioned Problem. The yaml
// package gives syntax errors only as text, "yaml: line N: msg" or
// "yaml: msg" when the problem is on the first line, and no column.
func (s *source) syntax(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		num, text, _ := strings.Cut(rest, ": ")
		if n, convErr := strconv.Atoi(num); convErr == nil {
			line, msg = n, text
			if parserProblems[msg] {
				line++
			}
		}
	}
	if name, ok := unknownAnchor(msg); ok {
		return s.anchorProblem(name, msg)
	}
	col, hint := s.column(line)
	return s.problem(line, col, "", msg+hint)
}

// column guesses where on line a syntax error is: at a tab in the
// indentation, which YAML forbids and people paste in, or else at the
// first character that is not a space.
func (s *source) column(line int) (int, string) {
	l := s.line(line)
	indent := len(l) - len(strings.TrimLeft(l, " \t"))
	if i := strings.IndexByte(l[:indent], '\t'); i >= 0 {
		return i + 1, " (YAML indents with spaces, not tabs)"
	}
	return indent + 1, ""
}

func unknownAnchor(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "unknown anchor '")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "' referenced")
	return name, ok
}

// anchorProblem points at the first use of alias *name, which the yaml
// package reports without a position.
func (s *source) anchorProblem(name, msg string) Problem {
	for n, l := range s.lines {
		if i := strings.Index(l, "*"+name); i >= 0 {
			return s.problem(n+1, utf8.RuneCountInString(l[:i])+1, "", msg)
		}
	}
	return s.problem(1, 1, "", msg)
}

// scalarPos returns the position of byte off of scalar n's value in the
// text. Where the value is not a verbatim copy of the text (escapes,
// folded lines, block scalars) it falls back to the scalar's start.
func (s *source) scalarPos(n *yaml.Node, off int) (int, int) {
	v := n.Value
	if off < 0 || off > len(v) || strings.ContainsAny(v[:off], "\r\n") {
		return n.Line, n.Column
	}
	raw, start := v[:off], n.Column
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return n.Line, n.Column
	case n.Style&yaml.SingleQuotedStyle != 0:
		raw, start = strings.ReplaceAll(raw, "'", "''"), start+1
	case n.Style&yaml.DoubleQuotedStyle != 0:
		start++
	}
	line := []rune(s.line(n.Line))
	end := start - 1 + utf8.RuneCountInString(raw)
	if start < 1 || end > len(line) || string(line[start-1:end]) != raw {
		return n.Line, n.Column
	}
	return n.Line, end + 1
}
