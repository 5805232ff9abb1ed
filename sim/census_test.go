package sim

import (
	"testing"
	"testing/synctest"
	"time"
)

// The census follows the fleet: nobody before the run, devices connecting
// at 1,000 a second, all connected, then a broker that refuses sends
// them offline to retry.
func TestCensusFollowsTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		p := meterPlan(2000, time.Second, 10*time.Second, 1)
		e, err := New(p, Options{Connector: b, Receiver: b, Sender: b, Recorder: &tally{}, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if c := e.Census()[0]; c != (Census{}) {
			t.Errorf("census before the run = %+v, want nobody", c)
		}
		done := make(chan error)
		go func() { done <- e.Run(t.Context()) }()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if c := e.Census()[0]; c.Connected < 1000 || c.Connected >= 2000 || c.Active() != 2000 {
			t.Errorf("census at 1.5 s = %+v, want 1,500 of 2,000 connected (1,000 a second) and the rest connecting", c)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c := e.Census()[0]; c.Connected != 2000 {
			t.Errorf("census at 3.5 s = %+v, want all 2,000 connected", c)
		}
		b.dropAll()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if c := e.Census()[0]; c.Offline == 0 || c.Connected == 2000 {
			t.Errorf("census after the broker dropped everyone = %+v, want devices offline, retrying", c)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
