package tail

import "testing"

func TestBuffer(t *testing.T) {
	tests := []struct {
		writes []string
		max    int
		want   string
	}{
		{[]string{"ab", "cd"}, 10, "abcd"},
		{[]string{"abcdef", "gh"}, 4, "[earlier lines dropped]\nefgh"},
		{[]string{"abcdefgh"}, 3, "[earlier lines dropped]\nfgh"},
	}
	for _, tt := range tests {
		b := &Buffer{Max: tt.max}
		for _, w := range tt.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if got := b.String(); got != tt.want {
			t.Errorf("after %q (max %d): String() = %q, want %q", tt.writes, tt.max, got, tt.want)
		}
	}
}
