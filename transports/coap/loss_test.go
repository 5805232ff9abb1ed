package coap_test

import (
	"context"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
	"github.com/m2msim/m2msim/transports/netem"
)

// TestRetransmissionShare runs 10,000 confirmable exchanges through
// shaped links that lose 10% of the datagrams each way (userspace netem,
// fixed seed) against an in-process responder. An exchange needs a
// retransmission exactly when its request or its response is lost, so
// the share that needed at least one is 1 - 0.9^2 = 19%, and at least k
// retransmissions 0.19^k. The schedule is proportional to ACK_TIMEOUT,
// so a short one (50 ms, far above the loopback round trip) keeps the
// test to seconds without changing the counts.
func TestRetransmissionShare(t *testing.T) {
	const sessions, each = 100, 100
	r := coaptest.StartResponder(t, nil)
	sh := netem.NewShaper(0)
	ctx, stop := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { sh.Run(ctx) })
	defer func() { stop(); run.Wait() }()
	lossy := netem.Profile{Loss: netem.Loss{P: 10}}
	link := netem.Link{Up: lossy, Down: lossy}
	var d net.Dialer

	var counters coap.Counters
	var mu sync.Mutex
	byTx := map[int]int{} // exchanges by transmissions needed
	var wg sync.WaitGroup
	for i := range sessions {
		s := dial(t, coap.Options{Addr: r.Addr(), Dial: sh.Dialer(d.DialContext, link, 42, i),
			AckTimeout: 50 * time.Millisecond, Seed: 42, Stream: uint64(i), Counters: &counters})
		wg.Go(func() {
			done := make(chan coap.Result, 1)
			for range each {
				if err := s.Start(request(coap.Confirmable, coap.GET, "/t", ""), func(r coap.Result) { done <- r }); err != nil {
					t.Error(err)
					return
				}
				res := <-done
				mu.Lock()
				byTx[res.Transmissions]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	n := 0
	for _, c := range byTx {
		n += c
	}
	atLeast := func(k int) float64 { // share with at least k retransmissions
		m := 0
		for tx, c := range byTx {
			if tx > k {
				m += c
			}
		}
		return float64(m) / float64(n)
	}
	st := counters.Snapshot()
	t.Logf("%d exchanges by transmissions: %v; %+v", n, byTx, st)
	if n != sessions*each {
		t.Fatalf("%d exchanges ended, want %d", n, sessions*each)
	}
	if got := atLeast(1); math.Abs(got-0.19) > 0.01 {
		t.Errorf("share with >= 1 retransmission = %.4f, want 0.19 +/- 0.01", got)
	}
	// 0.19^2 = 3.61%: the binomial sd over 10,000 is 0.19 points; allow 3.
	if got := atLeast(2); math.Abs(got-0.0361) > 0.0057 {
		t.Errorf("share with >= 2 retransmissions = %.4f, want 0.0361 +/- 0.0057", got)
	}
	if st.Duplicates != 0 || st.Late != 0 || st.Unmatched != 0 {
		t.Errorf("loss alone made duplicates or strays: %+v", st)
	}
}

// TestDuplicatesThroughShapedLink: a link that duplicates 10% of the
// datagrams each way makes 1.1 * 1.1 - 1 = 21% more responses arrive
// than exchanges; each exchange still ends exactly once, with no
// retransmission, and every extra response is counted as a duplicate.
func TestDuplicatesThroughShapedLink(t *testing.T) {
	const sessions, each = 20, 100
	r := coaptest.StartResponder(t, nil)
	sh := netem.NewShaper(0)
	ctx, stop := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { sh.Run(ctx) })
	defer func() { stop(); run.Wait() }()
	dup := netem.Profile{Duplicate: 10}
	link := netem.Link{Up: dup, Down: dup}
	var d net.Dialer
	var counters coap.Counters
	var calls atomic.Int64
	var wg sync.WaitGroup
	for i := range sessions {
		s := dial(t, coap.Options{Addr: r.Addr(), Dial: sh.Dialer(d.DialContext, link, 7, i),
			Seed: 7, Stream: uint64(i), Counters: &counters})
		wg.Go(func() {
			done := make(chan coap.Result, each)
			for range each {
				err := s.Start(request(coap.Confirmable, coap.GET, "/d", ""), func(r coap.Result) {
					calls.Add(1)
					done <- r
				})
				if err != nil {
					t.Error(err)
					return
				}
				if res := <-done; res.Err != nil || res.Transmissions != 1 {
					t.Errorf("exchange: %+v", res)
				}
			}
		})
	}
	wg.Wait()
	// The responder answers every copy of every request: wait for the
	// last duplicates, until the count stops moving.
	st := counters.Snapshot()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		next := counters.Snapshot()
		if next.Duplicates == st.Duplicates {
			break
		}
		st = next
	}
	const n = sessions * each
	if c := calls.Load(); c != n {
		t.Errorf("%d exchanges ended, %d callbacks: each must end once", n, c)
	}
	// Extra responses per exchange: mean 0.21, variance about 0.2 (two
	// independent Bernoulli(0.1) and their product), so the sd of the
	// mean over 2,000 exchanges is 0.01; allow 4 sd.
	if got := float64(st.Duplicates) / n; math.Abs(got-0.21) > 0.04 {
		t.Errorf("duplicates per exchange %.3f, want 0.21 +/- 0.04 (%+v)", got, st)
	}
	if st.Codes[coap.Content] != n || st.Retransmissions != 0 || st.Unmatched != 0 || st.Late != 0 {
		t.Errorf("Stats = %+v", st)
	}
}
