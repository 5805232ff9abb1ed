package scenarios

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, file := range examples(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range problemCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(checkParse)
}

// checkParse checks that Parse accepts data as a valid scenario or
// returns problems that point into it.
func checkParse(t *testing.T, data []byte) {
	s, err := Parse("f.yaml", data)
	if err == nil {
		checkValid(t, data, s)
		return
	}
	var probs Problems
	if !errors.As(err, &probs) || len(probs) == 0 {
		t.Fatalf("Parse(%q) = %v; want Problems", data, err)
	}
	lines := lineLengths(data)
	for _, p := range probs {
		if p.Line < 1 || p.Line > len(lines) || p.Col < 1 || p.Col > lines[p.Line-1]+1 {
			t.Errorf("Parse(%q): %v is outside the input (%d lines)", data, p, len(lines))
		}
	}
}

// checkValid checks that a scenario Parse accepted converts to a plan and
// that its normalised form reads back.
func checkValid(t *testing.T, data []byte, s *Scenario) {
	if s == nil {
		t.Fatalf("Parse(%q) = nil, nil", data)
	}
	p := s.Plan()
	if p.Devices() < 1 || p.Devices() > MaxDevices || p.Duration <= 0 {
		t.Errorf("Parse(%q).Plan() = %d devices over %s", data, p.Devices(), p.Duration)
	}
	norm, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal(Parse(%q)) = %v", data, err)
	}
	if _, err := Parse("norm.yaml", norm); err != nil {
		t.Errorf("Parse(normalised %q) = %v; normalised form %s", data, err, norm)
	}
}

// lineLengths counts the characters on each line of data, with YAML's
// line breaks, independently of the source type.
func lineLengths(data []byte) []int {
	text := strings.TrimPrefix(string(data), "\uFEFF")
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u0085", "\n", "\u2028", "\n", "\u2029", "\n").Replace(text)
	var n []int
	for _, l := range strings.Split(text, "\n") {
		n = append(n, utf8.RuneCountInString(l))
	}
	return n
}
