package coap

import "testing"

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	steps := []struct {
		seq   uint64
		fresh bool
	}{
		{5, true}, {5, false}, {3, true}, {3, false}, {70, true}, {6, false}, // 6 fell out of the window
		{7, true}, {69, true}, {70, false}, {1000, true}, {937, true}, {936, false},
	}
	for i, st := range steps {
		if got := w.fresh(st.seq); got != st.fresh {
			t.Fatalf("step %d: fresh(%d) = %v, want %v", i, st.seq, got, st.fresh)
		}
		if st.fresh {
			w.mark(st.seq)
		}
	}
}
