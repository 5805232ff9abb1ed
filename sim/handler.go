package sim

import (
	"bytes"
	"time"
)

// handler receives one connection's session events for a device. epoch
// ties it to that connection: events from an older one are ignored.
type handler struct {
	e     *Engine
	dev   int
	epoch uint32
}

// end takes ref off the device's in-flight list, which the drain then no
// longer awaits, and returns the device, the message and its group;
// false when ref is not in flight (its connection was dropped meanwhile).
func (h *handler) end(ref Ref) (*device, inflight, int, bool) {
	d := &h.e.devs[h.dev]
	d.mu.Lock()
	f, ok := d.ack(ref)
	g := int(d.group)
	d.mu.Unlock()
	if ok {
		h.e.outstanding.Add(-1)
	}
	return d, f, g, ok
}

// Acked ends an acknowledged message's flow: it times telemetry
// acknowledgements, and answers requests whose acknowledgement is their
// answer.
func (h *handler) Acked(ref Ref) {
	d, f, g, ok := h.end(ref)
	if !ok {
		return
	}
	e := h.e
	switch at := e.since(); {
	case f.kind == jobTelemetry:
		e.o.Recorder.Record(Event{Kind: Acked, Group: g, At: at, Latency: at - f.intended, Intended: f.intended,
			Timed: d.timed})
	case f.kind == jobRequest && e.groups[g].req.inline:
		e.o.Recorder.Record(Event{Kind: RequestAnswered, Group: g, At: at, Latency: at - f.intended, Intended: f.intended})
	}
}

// Failed ends an acknowledged message's flow without its acknowledgement:
// telemetry counts as unacknowledged, with the reason as its error.
func (h *handler) Failed(ref Ref, err error) {
	d, f, g, ok := h.end(ref)
	if !ok {
		return
	}
	e := h.e
	if f.kind == jobTelemetry {
		e.o.Recorder.Record(Event{Kind: Unacked, Group: g, At: e.since(), Intended: f.intended, Timed: d.timed,
			Err: ErrorKind(err)})
		return
	}
	e.record(PublishFailed, g, 0, ErrorKind(err))
}

// Measure records a latency the protocol names.
func (h *handler) Measure(metric string, d time.Duration) {
	e := h.e
	e.o.Recorder.Record(Event{Kind: Measured, Group: int(e.devs[h.dev].group), At: e.since(), Latency: d, Metric: metric})
}

// Count records one occurrence the protocol names.
func (h *handler) Count(metric string) {
	e := h.e
	e.o.Recorder.Record(Event{Kind: Counted, Group: int(e.devs[h.dev].group), At: e.since(), Metric: metric})
}

// Transmitted charges a frame the transport sent on its own to the
// device's radio.
func (h *handler) Transmitted(size int) {
	e := h.e
	d := &e.devs[h.dev]
	now := e.since()
	d.mu.Lock()
	if d.conn != h.epoch {
		d.mu.Unlock()
		return
	}
	g := int(d.group)
	air, over := e.charge(h.dev, d, size, now)
	d.mu.Unlock()
	e.charged(g, air, over, now)
}

// charge counts a frame that did not pass the device's radio queue (a
// transport's retransmission, a keepalive) as an uplink: its airtime
// closes the band for as long as the duty cycle asks, and it counts
// towards the day's frames. The frame has left already: over reports
// that the band was closed, where a real radio would have held it.
// d.mu is held.
func (e *Engine) charge(dev int, d *device, size int, now time.Duration) (air time.Duration, over bool) {
	e.uplinked(dev, d, now)
	r := e.groups[d.group].g.Radio
	if !r.active() {
		return 0, false
	}
	over = d.radioBusy(now)
	if r.Airtime != nil {
		air = r.Airtime(size)
	}
	d.ext().bandFree = max(d.ext().bandFree, now+r.busy(air))
	if d.withinDay(r, now) {
		d.ext().dayCount++
	}
	return air, over
}

// charged records a charged frame's airtime, and a frame sent while the
// band was closed.
func (e *Engine) charged(g int, air time.Duration, over bool, now time.Duration) {
	if air > 0 {
		e.o.Recorder.Record(Event{Kind: OnAir, Group: g, At: now, Latency: air})
	}
	if over {
		e.o.Recorder.Record(Event{Kind: Counted, Group: g, At: now, Metric: metricOverrun})
	}
}

// metricOverrun counts frames a transport sent on its own while the
// device's radio was on air or its band closed by the duty cycle.
const metricOverrun = "radio_overrun"

// Message handles what the backend sends a device: a command, which the
// device answers at once, or the answer to one of its requests.
func (h *handler) Message(topic string, payload []byte) {
	tok, off, ok := findToken(payload)
	if !ok || int(tok.Device) != h.dev {
		return
	}
	switch tok.Kind {
	case TokenCommand:
		if h.e.held(h.dev, h.epoch, tok, rekind(payload, off, TokenReply), len(payload)) {
			return
		}
		h.reply(tok, rekind(payload, off, TokenReply))
	case TokenAnswer:
		e := h.e
		d := &e.devs[h.dev]
		d.mu.Lock()
		tok, timed := d.unstamp(tok)
		d.mu.Unlock()
		e.outstanding.Add(-1)
		e.timed(RequestAnswered, int(d.group), e.since(), tok, timed)
	}
}

// reply publishes a command's reply from the device.
func (h *handler) reply(tok Token, payload []byte) {
	e := h.e
	d := &e.devs[h.dev]
	d.mu.Lock()
	gs := &e.groups[d.group]
	c := gs.g.Commands
	if d.conn == h.epoch && d.state == stateConnecting && len(d.ext().early) < maxPending {
		d.ext().early = append(d.ext().early, earlyReply{tok: tok, payload: payload})
		d.mu.Unlock()
		return
	}
	if d.conn != h.epoch || d.cannotSend(gs.reply) != "" {
		d.mu.Unlock()
		e.outstanding.Add(-1) // the round trip cannot close
		return
	}
	v := e.vars(h.dev, d, tok.Seq, tok, nil)
	topic := c.ReplyTopic.Render(&v)
	if r := gs.g.Radio; r.active() {
		// A reply is an uplink like any other: it waits for the radio.
		now := e.since()
		closed := d.radioBusy(now)
		if closed && r.Drop {
			d.mu.Unlock()
			e.outstanding.Add(-1)
			e.record(PublishFailed, gs.idx, 0, errDutyCycle)
			return
		}
		fr := &frame{f: gs.reply, intended: now, topic: []byte(topic), payload: payload}
		e.enqueue(h.dev, d, r, fr, closed, now)
		return
	}
	ref := e.track(d, gs.reply, tok.Intended)
	s := d.sess
	e.uplinked(h.dev, d, e.since())
	d.mu.Unlock()
	if err := s.Send(gs.reply.message(ref, topic, payload)); err != nil {
		e.untrack(d, ref, false)
		e.outstanding.Add(-1)
		e.record(PublishFailed, gs.idx, 0, ErrorKind(err))
	}
}

// Lost handles a connection that ended on its own: the device reconnects
// per its backoff.
func (h *handler) Lost(err error) {
	e := h.e
	d := &e.devs[h.dev]
	d.mu.Lock()
	if d.conn != h.epoch {
		d.mu.Unlock()
		return
	}
	d.conn++
	d.sess, d.waking = nil, false
	dropped := e.dropInflight(d)
	e.retry(h.dev, d, e.since())
	g := int(d.group)
	d.mu.Unlock()
	e.record(Disconnected, g, 0, ErrorKind(err))
	e.unacked(g, d.timed, dropped)
}

// deliver is the backend's inbound path: telemetry is timed end to end,
// command replies close their round trip, and requests get an answer.
// Times run to when the message reached the backend's host; the wait
// from there to here is the backend's own lag, recorded apart.
func (e *Engine) deliver(m Delivery) {
	if !e.live.Load() || e.stopped.Load() {
		return
	}
	tok, off, ok := findToken(m.Payload)
	if !ok || int(tok.Device) >= len(e.devs) || !e.owns(int(tok.Device)) {
		return // not ours: another shard's device, seen on a shared filter
	}
	d := &e.devs[tok.Device]
	g := int(d.group)
	at := e.arrival(g, m.Arrived)
	switch tok.Kind {
	case TokenTelemetry:
		if !d.timed {
			return // not in the sample: its delivery was not awaited
		}
		d.mu.Lock()
		tok, timed := d.unstamp(tok)
		dup := d.dedup.seen(tok.Seq)
		d.mu.Unlock()
		if dup {
			e.o.Recorder.Record(Event{Kind: Duplicate, Group: g, At: at, Intended: tok.Intended})
			return
		}
		e.outstanding.Add(-1)
		e.timed(Delivered, g, at, tok, timed)
	case TokenReply:
		d.mu.Lock()
		tok, timed := d.unstamp(tok)
		dup := d.replies.seen(tok.Seq)
		d.mu.Unlock()
		if dup {
			// A reply the transport delivered twice (a retransmission
			// whose acknowledgement was lost, to a server that keeps
			// no duplicate cache) closes its round trip once.
			e.o.Recorder.Record(Event{Kind: Duplicate, Group: g, At: at, Intended: tok.Intended})
			return
		}
		e.outstanding.Add(-1)
		if m.Err != nil {
			e.record(PublishFailed, g, 0, errCommandPrefix+ErrorKind(m.Err))
			return
		}
		e.timed(CommandReplied, g, at, tok, timed)
	case TokenRequest:
		e.answer(int(tok.Device), d, tok, rekind(m.Payload, off, TokenAnswer))
	}
}

// errCommandPrefix marks a command the backend could not get to its
// device, as "backend_" marks one it could not send at all.
const errCommandPrefix = "command_"

// arrival converts when a message reached the backend's host to run time,
// and records the backend's lag since then.
func (e *Engine) arrival(g int, arrived time.Time) time.Duration {
	now := e.since()
	if arrived.IsZero() {
		return now
	}
	lag := min(max(0, time.Since(arrived)), now)
	e.o.Recorder.Record(Event{Kind: BackendLag, Group: g, At: now, Latency: lag})
	return now - lag
}

// errUntimed marks a measurement whose short token's intended time was no
// longer kept: it counts, without a latency.
const errUntimed = "untimed"

// timed records a measurement that closes tok's flow at at.
func (e *Engine) timed(k EventKind, g int, at time.Duration, tok Token, ok bool) {
	if !ok {
		e.o.Recorder.Record(Event{Kind: k, Group: g, At: at, Err: errUntimed, Intended: at})
		return
	}
	e.o.Recorder.Record(Event{Kind: k, Group: g, At: at, Latency: at - tok.Intended, Intended: tok.Intended})
}

// answer has the backend answer a device's request, through the outbox:
// this runs on a delivery, which must never wait on the backend.
func (e *Engine) answer(dev int, d *device, tok Token, payload []byte) {
	gs := &e.groups[d.group]
	r := gs.g.Requests
	if r == nil {
		return
	}
	d.mu.Lock()
	v := e.vars(dev, d, tok.Seq, tok, nil)
	d.mu.Unlock()
	e.post(outMsg{topic: r.ReplyTopic.Render(&v), payload: bytes.Clone(payload), qos: r.QoS, group: gs.idx})
}

// Page job slots: what a jobPage releases.
const (
	pageDue    = iota // the held commands now due
	pageUplink        // all of them: the device has just sent, so it is connected
	pageWindow        // the oldest one waiting for a receive window
)

// Downlink failures, recorded as PublishFailed.
const (
	errDownTooLarge = "downlink_too_large"  // over the radio's downlink payload cap
	errDownFull     = "downlink_queue_full" // too many commands waiting for the device
)

// held keeps a command the device cannot hear yet (it is idle and must
// be paged, sleeps between paging windows, is in PSM, listens only after
// its uplinks, or the downlink takes time on air) until it can, and
// reports whether it did. A command the device can never hear is dropped.
func (e *Engine) held(dev int, epoch uint32, tok Token, reply []byte, n int) bool {
	d := &e.devs[dev]
	gs := &e.groups[d.group]
	g, r := gs.g, gs.g.Radio
	if g.Sleep == nil && g.Wake == nil && !r.listens() {
		return false
	}
	now := e.since()
	d.mu.Lock()
	if d.conn != epoch {
		d.mu.Unlock()
		return false
	}
	fail := ""
	due := now
	switch {
	case r != nil && r.MaxDownPayload > 0 && n > r.MaxDownPayload:
		fail = errDownTooLarge
	case r != nil && r.AfterUplink:
		due = -1
	case g.Sleep != nil:
		at, idle := g.Sleep.listen(now, d.lastWrite, g.Sleep.PagingPhase(e.plan.Seed, dev))
		if idle {
			at += e.wakeDraw(dev, d, g.Wake)
		}
		due = at
	case g.Wake != nil && now-d.lastWrite >= g.Wake.Inactivity:
		// Idle: the network pages the device, which sets up its
		// connection before the downlink can follow.
		due = now + e.wakeDraw(dev, d, g.Wake)
	}
	if due >= 0 && r != nil && r.DownAirtime != nil {
		if d.ext().air != nil {
			due = max(due, d.ext().air.end) // half duplex: not while it transmits
		}
		due += r.DownAirtime(n)
	}
	if fail == "" && due == now {
		d.mu.Unlock()
		return false
	}
	if fail == "" && len(d.ext().paged) >= maxPending {
		fail = errDownFull
	}
	if fail != "" {
		d.mu.Unlock()
		e.outstanding.Add(-1) // its reply will never come
		e.record(PublishFailed, gs.idx, 0, fail)
		return true
	}
	d.ext().paged = append(d.ext().paged, earlyReply{tok: tok, payload: reply, at: now, due: due})
	if due >= 0 {
		e.schedule(dev, jobPage, epoch, pageDue, due)
	} else {
		e.claimWindow(dev, d, r, now)
	}
	d.mu.Unlock()
	return true
}

// claimWindow gives the oldest command waiting for a receive window the
// window after the device's last uplink, if that window has not opened
// yet and carries nothing else. d.mu is held.
func (e *Engine) claimWindow(dev int, d *device, r *Radio, now time.Duration) {
	if !d.ext().rxFree || now > d.ext().rxAt || len(d.ext().paged) == 0 {
		return
	}
	d.ext().rxFree = false
	at := d.ext().rxAt
	if r.DownAirtime != nil {
		at += r.DownAirtime(len(d.ext().paged[0].payload))
	}
	e.schedule(dev, jobPage, d.conn, pageWindow, at)
}

// openWindow opens the receive window after an uplink that just left the
// air, if the device asks for one. d.mu is held.
func (e *Engine) openWindow(dev int, d *device, r *Radio, now time.Duration) {
	if r.DownPerDay > 0 {
		p := uint32(now/(24*time.Hour/time.Duration(r.DownPerDay))) + 1
		if p == d.ext().rxPeriod {
			return
		}
		d.ext().rxPeriod = p
	}
	d.ext().rxAt, d.ext().rxFree = now+r.RXDelay, true
	e.claimWindow(dev, d, r, now)
}

// uplinked notes an uplink the device writes now: it is connected, so
// the network delivers what it held for a sleeping device. Leaving PSM
// counts as a wake. d.mu is held.
func (e *Engine) uplinked(dev int, d *device, now time.Duration) {
	g := e.groups[d.group].g
	if slept := g.Sleep.asleep(d.lastWrite, now); slept > 0 {
		e.record(Woke, int(d.group), slept, "")
	}
	// Only a cellular device's waits end with its uplinks; a radio with
	// receive windows or downlink airtime times its own.
	if d.x.pagedLen() > 0 && (g.Sleep != nil || g.Wake != nil) && !g.Radio.timesDownlink() {
		e.schedule(dev, jobPage, d.conn, pageUplink, now)
	}
	d.lastWrite = now
}

// page delivers held commands to the device: those a job releases.
func (e *Engine) page(j job) {
	d := &e.devs[j.dev]
	d.mu.Lock()
	if d.conn != j.epoch || d.x.pagedLen() == 0 {
		d.mu.Unlock()
		return
	}
	var out []earlyReply
	now := e.since()
	switch j.slot {
	case pageWindow:
		out = []earlyReply{d.ext().paged[0]}
		d.ext().paged = d.ext().paged[1:]
		r := e.groups[d.group].g.Radio
		e.claimWindow(int(j.dev), d, r, now) // none: the window is used
	case pageUplink:
		out, d.ext().paged = d.ext().paged, nil
	default:
		keep := d.ext().paged[:0]
		for _, p := range d.ext().paged {
			if p.due >= 0 && p.due <= now {
				out = append(out, p)
			} else {
				keep = append(keep, p)
			}
		}
		clear(d.ext().paged[len(keep):])
		d.ext().paged = keep
	}
	if len(d.ext().paged) == 0 {
		d.ext().paged = nil
	}
	d.mu.Unlock()
	h := &handler{e: e, dev: int(j.dev), epoch: j.epoch}
	for _, r := range out {
		e.record(DownlinkWait, int(d.group), now-r.at, "")
		h.reply(r.tok, r.payload)
	}
}
