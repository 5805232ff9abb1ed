package sim

import "time"

// Census counts a fleet's active devices by state at one moment. Devices
// the plan has not activated (a later stage's, or a ramp's not yet
// reached) are in none of the states.
type Census struct {
	// Connecting devices are dialling, or waiting for their first
	// connect (a ramp or a per-report wake-up).
	Connecting int64
	// Connected devices hold a live connection with their radio awake.
	Connected int64
	// Sleeping devices are per-report devices between reports (no
	// connection), or connected devices whose radio is in power saving
	// mode now.
	Sleeping int64
	// Offline devices lost their connection or failed to connect and
	// wait to retry, or gave up.
	Offline int64
}

// Active is the number of devices in any state.
func (c Census) Active() int64 { return c.Connecting + c.Connected + c.Sleeping + c.Offline }

// Add adds o to c.
func (c *Census) Add(o Census) {
	c.Connecting += o.Connecting
	c.Connected += o.Connected
	c.Sleeping += o.Sleeping
	c.Offline += o.Offline
}

// Census counts devices by state now, per group in plan order. It locks
// each device briefly in turn, so it costs about 20 ns a device: call it
// about once a second, not per event.
func (e *Engine) Census() []Census {
	out := make([]Census, len(e.groups))
	now := e.since()
	for i := range e.devs {
		d := &e.devs[i]
		d.mu.Lock()
		st, attempt, last, g := d.state, d.attempt, d.lastWrite, d.group
		d.mu.Unlock()
		c := &out[g]
		switch st {
		case stateConnecting:
			c.Connecting++
		case stateWaiting:
			if attempt > 0 {
				c.Offline++
			} else {
				c.Connecting++
			}
		case stateConnected:
			if e.groups[g].g.Sleep.sleepingAt(last, now) {
				c.Sleeping++
			} else {
				c.Connected++
			}
		case stateAsleep:
			c.Sleeping++
		case stateOffline:
			c.Offline++
		}
	}
	return out
}

// sleepingAt says whether a connected device whose last uplink was at
// last has its radio in power saving mode at now.
func (s *Sleep) sleepingAt(last, now time.Duration) bool {
	if s == nil || s.TAU <= 0 || now <= last {
		return false
	}
	cycle := s.Inactivity + s.TAU
	return (now-last)%cycle >= s.Inactivity+s.Active
}
