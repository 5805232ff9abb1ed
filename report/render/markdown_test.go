package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/internal/golden"
)

func TestMarkdownGolden(t *testing.T) {
	for _, f := range fixtures {
		var b bytes.Buffer
		if err := Markdown(&b, f.in()); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "summary"+f.name+".golden.md", b.Bytes())
		if n := strings.Count(b.String(), "\n"); n > 60 {
			t.Errorf("summary%s.md has %d lines, want at most 60 for $GITHUB_STEP_SUMMARY", f.name, n)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"mdCode", mdCode, "a | b", "`a \\| b`"},
		{"mdCode", mdCode, "x `y` z", "``x `y` z``"},
		{"mdCode", mdCode, "`y`", "`` `y` ``"},
		{"mdCell", mdCell, "< 250ms", "< 250ms"},
		{"mdCell", mdCell, "<script>", "&lt;script>"},
		{"mdText", mdText, "lost_unacked *all* [x]", `lost\_unacked \*all\* \[x\]`},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
