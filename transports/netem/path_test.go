package netem

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pathRecorder collects what a Path emits, with the fake clock's time.
type pathRecorder struct {
	mu  sync.Mutex
	got []pathEmit
}

type pathEmit struct {
	d   Direction
	at  time.Time
	pkt string
}

func (r *pathRecorder) emit(d Direction, pkt []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, pathEmit{d, time.Now(), string(pkt)})
}

func (r *pathRecorder) all() []pathEmit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pathEmit(nil), r.got...)
}

// Each direction gets its own delay; packets leave in order, exactly when
// due, and a zero direction passes straight through.
func TestPathDelayPerDirection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		var r pathRecorder
		p := s.Path(Link{Up: Profile{Delay: 100 * time.Millisecond}}, 1, 7, r.emit)
		start := time.Now()
		for _, pkt := range []string{"a", "b"} {
			if err := p.Send(Up, []byte(pkt)); err != nil {
				t.Fatalf("Send(Up, %q) = %v", pkt, err)
			}
		}
		if err := p.Send(Down, []byte("c")); err != nil {
			t.Fatalf("Send(Down) = %v", err)
		}
		time.Sleep(time.Second)
		got := r.all()
		if len(got) != 3 {
			t.Fatalf("emitted %v, want 3 packets", got)
		}
		if got[0].d != Down || got[0].pkt != "c" || got[0].at != start {
			t.Errorf("first emit %+v, want c down at once", got[0])
		}
		for i, want := range []string{"a", "b"} {
			g := got[i+1]
			if g.d != Up || g.pkt != want || g.at.Sub(start) != 100*time.Millisecond {
				t.Errorf("emit %d = %v %q after %v, want up %q after 100ms", i+1, g.d, g.pkt, g.at.Sub(start), want)
			}
		}
		if st := p.Stats(); st.Up.Sent != 2 || st.Down.Sent != 1 {
			t.Errorf("Stats = %+v, want 2 up and 1 down sent", st)
		}
		cancel()
		<-done
		if err := p.Send(Up, []byte("x")); err != ErrStopped {
			t.Errorf("Send after Run = %v, want ErrStopped", err)
		}
	})
}

// Rate counts the whole packet (it carries its own headers): 100 bytes at
// 8kbit take 100 ms; the limit drops what does not fit.
func TestPathRateAndLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewShaper(1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go s.Run(ctx)
		var r pathRecorder
		p := s.Path(Link{Up: Profile{Rate: 8_000, Limit: 2}}, 1, 0, r.emit)
		start := time.Now()
		for range 3 {
			p.Send(Up, make([]byte, 100))
		}
		time.Sleep(time.Second)
		got := r.all()
		if len(got) != 2 {
			t.Fatalf("emitted %d packets, want 2 (limit 2)", len(got))
		}
		for i, g := range got {
			if want := time.Duration(i+1) * 100 * time.Millisecond; g.at.Sub(start) != want {
				t.Errorf("packet %d left after %v, want %v", i, g.at.Sub(start), want)
			}
		}
		if st := p.Stats(); st.Up.Dropped != 1 {
			t.Errorf("Up.Dropped = %d, want 1", st.Up.Dropped)
		}
	})
}

// Loss is seeded per device and direction: the same seed loses the same
// packets, and 30% loss of 2,000 packets loses 30% +/- 3.
func TestPathLossSeeded(t *testing.T) {
	run := func(seed uint64) []string {
		var out []string
		synctest.Test(t, func(t *testing.T) {
			s := NewShaper(1)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go s.Run(ctx)
			var r pathRecorder
			p := s.Path(Link{Up: Profile{Delay: time.Millisecond, Loss: Loss{P: 30}, Limit: 5000}}, seed, 3, r.emit)
			for i := range 2000 {
				p.Send(Up, []byte{byte(i), byte(i >> 8)})
			}
			time.Sleep(time.Second)
			for _, g := range r.all() {
				out = append(out, g.pkt)
			}
		})
		return out
	}
	a, b := run(5), run(5)
	if len(a) != len(b) {
		t.Fatalf("same seed delivered %d then %d packets", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed: packet %d differs", i)
		}
	}
	if lost := 1 - float64(len(a))/2000; lost < 0.27 || lost > 0.33 {
		t.Errorf("lost %.3f of 2000 packets, want 0.30 +/- 0.03", lost)
	}
}
