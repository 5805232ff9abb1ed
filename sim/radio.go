package sim

import (
	"bytes"
	"time"
)

// frame is a message on air: rendered when it started, written to the
// session when its airtime is over.
type frame struct {
	f *flow
	// On a shared medium (see ether): decided by the capture model or not,
	// no demodulator free at its start, its channel and spreading factor,
	// its received power at the gateway (mW, relative).
	shared, capture bool
	noPath          bool
	channel, domain int
	power           float64
	waited          bool // it found the radio busy and was held
	intended        time.Duration
	start, end      time.Duration
	topic, payload  []byte
}

// Failure kinds recorded by the radio queue.
const (
	errDutyCycle = "duty_cycle"        // the band was closed and the policy drops
	errQueueFull = "queue_full"        // the hold queue was full
	errTooLarge  = "payload_too_large" // over the radio's payload cap
	errUnsent    = "unsent_at_close"   // still held or on air when the device closed
	errDailyCap  = "daily_cap"         // over the radio\'s frames per day
)

// hold queues a send behind the device's radio and starts it if the band
// is free. d.mu is held and released.
func (e *Engine) hold(dev int, d *device, r *Radio, kind uint8, intended, now time.Duration, sc *scratch) {
	closed := d.radioBusy(now)
	if closed && r.Drop {
		g := int(d.group)
		d.mu.Unlock()
		e.record(PublishFailed, g, 0, errDutyCycle)
		return
	}
	// The reading is taken now and stored: render at generation time.
	e.enqueue(dev, d, r, e.render(dev, d, e.groups[d.group].flow(kind), intended, sc), closed, now)
}

// enqueue adds a rendered frame to the device's radio queue, making room
// per the queue's policy, and starts it if the radio is free. d.mu is
// held and released.
func (e *Engine) enqueue(dev int, d *device, r *Radio, fr *frame, closed bool, now time.Duration) {
	g := int(d.group)
	fr.waited = closed
	if r.MaxPayload > 0 && len(fr.payload) > r.MaxPayload {
		d.mu.Unlock()
		e.record(PublishFailed, g, 0, errTooLarge)
		return
	}
	dropped := 0
	for len(d.ext().held) > 0 && !r.fits(len(d.ext().held), d.ext().heldBytes, len(fr.payload)) && r.DropOldest {
		d.ext().heldBytes -= len(d.ext().held[0].payload)
		d.ext().held = d.ext().held[1:]
		dropped++
	}
	e.outstanding.Add(-int64(dropped))
	if !r.fits(len(d.ext().held), d.ext().heldBytes, len(fr.payload)) {
		dropped++ // drop-newest, or a frame too large for an empty queue
	} else {
		// Held and on-air frames are work the drain waits for.
		e.outstanding.Add(1)
		d.ext().held = append(d.ext().held, fr)
		d.ext().heldBytes += len(fr.payload)
		e.pump(dev, d, r, now)
	}
	d.mu.Unlock()
	for range dropped {
		e.record(PublishFailed, g, 0, errQueueFull)
	}
}

// pump puts the next held frame on air when the band is free, or wakes
// the device's shard when it will be; it refuses frames over the daily
// cap. d.mu is held.
func (e *Engine) pump(dev int, d *device, r *Radio, now time.Duration) {
	for d.ext().air == nil && len(d.ext().held) > 0 {
		if now < d.ext().bandFree {
			e.schedule(dev, jobRadio, d.life, 0, d.ext().bandFree)
			return
		}
		fr := d.ext().held[0]
		d.ext().held = d.ext().held[1:]
		d.ext().heldBytes -= len(fr.payload)
		if !d.withinDay(r, now) {
			e.outstanding.Add(-1)
			e.record(PublishFailed, int(d.group), 0, errDailyCap)
			continue
		}
		d.ext().dayCount++
		var air time.Duration
		if r.Airtime != nil {
			air = r.Airtime(len(fr.payload))
		}
		fr.start, fr.end = now, now+air
		if r.Channels > 0 {
			d.frames++
			fr.channel = int(uniform(mix(e.plan.Seed, dev, purposeChannel, uint64(d.frames)), int64(r.Channels)))
			fr.domain, fr.power = r.Domain, e.rxPower(dev)
			fr.shared, fr.capture = true, r.Capture
			e.ether.transmit(fr)
		}
		d.ext().air, d.ext().bandFree = fr, now+r.busy(air)
		e.schedule(dev, jobRadio, d.life, 0, fr.end)
	}
}

// radioBusy reports whether the device's radio is on air or its band
// closed at now. d.mu is held.
func (d *device) radioBusy(now time.Duration) bool {
	return d.x != nil && (d.x.air != nil || now < d.x.bandFree)
}

// withinDay reports whether the device may send another frame today.
// d.mu is held.
func (d *device) withinDay(r *Radio, now time.Duration) bool {
	if r.PerDay <= 0 {
		return true
	}
	if day := uint32(now / (24 * time.Hour)); day != d.ext().day {
		d.ext().day, d.ext().dayCount = day, 0
	}
	return d.ext().dayCount < r.PerDay
}

// render builds a flow's next message into a frame of its own. d.mu is
// held.
func (e *Engine) render(dev int, d *device, f *flow, intended time.Duration, sc *scratch) *frame {
	seq := d.next(f.kind)
	e.payloadRand(dev, d, f)
	v := e.vars(dev, d, seq, Token{Kind: f.token, Device: uint32(dev), Seq: seq, Intended: intended}, sc)
	sc.render(f.topic, f.payload, f.size, &v)
	if f.short {
		d.stamp(f.token, seq, intended)
	}
	return &frame{f: f, intended: intended, topic: bytes.Clone(sc.topic), payload: bytes.Clone(sc.payload)}
}

// radioDone writes the frame whose airtime is over and starts the next
// held send.
func (e *Engine) radioDone(j job, now time.Duration, sc *scratch) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	if d.life != j.epoch {
		d.mu.Unlock()
		return
	}
	fr := d.ext().air
	if fr != nil && now >= fr.end {
		d.ext().air = nil
		e.transmit(dev, d, fr, now)
		d.mu.Lock()
	}
	e.pump(dev, d, e.groups[d.group].g.Radio, now)
	d.mu.Unlock()
}

// transmit hands a frame that left the air to the session. d.mu is held
// and released.
func (e *Engine) transmit(dev int, d *device, fr *frame, now time.Duration) {
	g := int(d.group)
	e.outstanding.Add(-1) // the frame has left the radio
	if reason := d.cannotSend(fr.f); reason != "" {
		d.mu.Unlock()
		if fr.f.reply {
			e.outstanding.Add(-1) // the command's round trip cannot close
		}
		e.record(PublishFailed, g, 0, reason)
		return
	}
	if fr.shared && e.ether.lost(fr) {
		d.mu.Unlock()
		if fr.f.reply {
			e.outstanding.Add(-1)
		}
		// The device sent it; the network never heard it.
		e.record(OnAir, g, fr.end-fr.start, "")
		e.record(Collided, g, 0, "")
		e.recordSent(fr.f, g, max(0, now-fr.end), fr.intended, e.awaits(d, fr.f))
		return
	}
	ref := e.track(d, fr.f, fr.intended)
	s := d.sess
	e.uplinked(dev, d, now)
	if r := e.groups[g].g.Radio; r.AfterUplink {
		e.openWindow(dev, d, r, now)
	}
	awaited := e.awaits(d, fr.f)
	d.mu.Unlock()
	if awaited {
		e.outstanding.Add(1)
	}
	if err := s.Send(fr.f.message(ref, bstr(fr.topic), fr.payload)); err != nil {
		e.untrack(d, ref, awaited)
		e.record(PublishFailed, g, 0, ErrorKind(err))
		return
	}
	if fr.waited {
		e.record(Deferred, g, fr.start-fr.intended, "")
	}
	if air := fr.end - fr.start; air > 0 {
		e.record(OnAir, g, air, "")
	}
	// The hold and the airtime are the radio's, not the generator's: the
	// schedule lag is how late the frame left after its airtime.
	e.recordSent(fr.f, g, max(0, now-fr.end), fr.intended, awaited)
}
