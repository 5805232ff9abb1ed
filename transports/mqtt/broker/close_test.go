package broker_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// TestCloseWhileClientsChurn closes the broker while clients connect and
// leave, which deadlocked mochi's own Close (mochi-mqtt/server#488): Close
// must return, every round.
func TestCloseWhileClientsChurn(t *testing.T) {
	for round := range 10 {
		b, err := broker.Start("127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var connected atomic.Int32
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil && i < 200; i++ {
					o := mqtt.Options{Addr: b.Addr(), ClientID: "churn-" + strconv.Itoa(w) + "-" + strconv.Itoa(i), Timeout: time.Second}
					if s, err := mqtt.Connect(ctx, o, nil); err == nil {
						connected.Add(1)
						s.Close()
					}
				}
			})
		}
		for deadline := time.Now().Add(5 * time.Second); connected.Load() < 10 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // close in the middle of the churn
		}
		closed := make(chan error, 1)
		go func() { closed <- b.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("round %d: Close = %v", round, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Close did not return within 10 s", round)
		}
		cancel()
		wg.Wait()
	}
}
