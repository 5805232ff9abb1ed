package coap

import "testing"

func TestCodeLabel(t *testing.T) {
	for c, want := range map[Code]string{Content: "coap_2_05", NewCode(4, 4): "coap_4_04", NewCode(5, 3): "coap_5_03", Created: "coap_2_01"} {
		if got := CodeLabel(c); got != want {
			t.Errorf("CodeLabel(%v) = %q, want %q", c, got, want)
		}
		if c.Class() >= 4 {
			if got := (&ResponseError{Code: c}).Kind(); got != want {
				t.Errorf("ResponseError{%v}.Kind() = %q, want %q", c, got, want)
			}
		}
	}
}
