package sim

import (
	"bytes"
	"math/rand/v2"
	"time"
	"unsafe"
)

// scratch is a shard's reusable render space. Sessions and backends must
// not retain topic or payload after Publish returns, which is what lets
// one buffer serve every message of a shard.
type scratch struct {
	topic, payload []byte
	src            pcgRef     // the device being rendered's random source
	rng            *rand.Rand // draws from src
}

// bstr views b as a string without copying; only for calls that do not
// retain it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (e *Engine) fire(j job, now time.Duration, sc *scratch) {
	if j.startsWork() && (j.due >= e.plan.Duration || e.cut.Load()) {
		return // past the schedule's end, or interrupted: start nothing new
	}
	switch j.kind {
	case jobConnect:
		e.connect(j)
	case jobTelemetry, jobRequest:
		e.devicePublish(j, now, sc)
	case jobCommand:
		e.command(j, now, sc)
	case jobPing:
		e.ping(j, now)
	case jobLinger:
		e.linger(j, now)
	case jobRadio:
		e.radioDone(j, now, sc)
	case jobPage:
		e.page(j)
	case jobWake:
		e.woken(j)
	case jobBurst:
		e.burst(j)
	case jobBurstSend:
		e.burstSend(j, now, sc)
	}
}

// clientID renders the device's client ID once and keeps it. d.mu is
// held.
func (e *Engine) clientID(dev int, d *device) string {
	if d.id == "" {
		gs := &e.groups[d.group]
		d.id = gs.g.ClientID.Render(&Vars{Index: dev - gs.base, Device: dev, Group: gs.g.Name})
	}
	return d.id
}

// vars are a device's template variables; sc lends its random source
// (nil: one is allocated). d.mu is held.
func (e *Engine) vars(dev int, d *device, seq uint32, tok Token, sc *scratch) Vars {
	gs := &e.groups[d.group]
	return Vars{ID: e.clientID(dev, d), Index: dev - gs.base, Device: dev, Group: gs.g.Name, Seq: seq,
		Now: e.start.Add(tok.Intended), Rand: sc.rand(d), Track: tok}
}

// rand returns d's payload random source, nil until seeded, through sc's
// reusable wrapper so that a send allocates nothing; a nil sc allocates
// one. Either draws from d.pcg, so the draws are the same. d.mu is held.
func (sc *scratch) rand(d *device) *rand.Rand {
	if !d.seeded {
		return nil
	}
	if sc == nil {
		return rand.New(&d.pcg)
	}
	if sc.rng == nil {
		sc.rng = rand.New(&sc.src)
	}
	sc.src.pcg = &d.pcg
	return sc.rng
}

// pcgRef is a rand.Source that draws from the PCG it points at.
type pcgRef struct{ pcg *rand.PCG }

// Uint64 draws from the PCG pointed at.
func (r *pcgRef) Uint64() uint64 { return r.pcg.Uint64() }

// render writes the topic and the payload (token appended when the
// template does not place it, padded to size) into sc.
func (sc *scratch) render(topic, payload *Template, size int, v *Vars) {
	sc.topic = topic.Append(sc.topic[:0], v)
	sc.payload = payload.Append(sc.payload[:0], v)
	if !payload.Uses("track") && !payload.Uses("track8") {
		sc.payload = v.Track.Append(sc.payload)
	}
	for len(sc.payload) < size {
		sc.payload = append(sc.payload, ' ')
	}
}

func (e *Engine) connect(j job) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	if d.life != j.epoch || d.state != stateWaiting {
		d.mu.Unlock()
		return
	}
	d.state = stateConnecting
	d.conn++
	epoch := d.conn
	gs := &e.groups[d.group]
	spec := ConnectSpec{ClientID: e.clientID(dev, d), Connect: gs.g.Connect, Subscribe: e.deviceSubs(gs, dev, d.id), Device: dev,
		Conn: uint64(epoch)}
	d.mu.Unlock()
	e.dials.Add(1)
	go e.dial(dev, epoch, spec, j.due)
}

// deviceSubs renders the topics a device listens on: its commands and the
// answers to its requests.
func (e *Engine) deviceSubs(gs *groupState, dev int, id string) []Subscription {
	v := Vars{ID: id, Index: dev - gs.base, Device: dev, Group: gs.g.Name}
	var subs []Subscription
	if c := gs.g.Commands; c != nil {
		subs = append(subs, Subscription{Topic: c.Topic.Render(&v), QoS: c.QoS})
	}
	if r := gs.g.Requests; r != nil && !gs.g.InlineAnswers {
		subs = append(subs, Subscription{Topic: r.ReplyTopic.Render(&v), QoS: r.QoS})
	}
	return subs
}

// dial runs on its own goroutine for the length of one connect attempt.
// due is the attempt's slot: a device's reports are due from its first
// connect's slot, whenever the connection comes up, so that what it sends
// is fixed by the schedule (a report that fell due while it connected
// goes out as soon as it is connected).
func (e *Engine) dial(dev int, epoch uint32, spec ConnectSpec, due time.Duration) {
	defer e.dials.Done()
	d := &e.devs[dev]
	t0 := e.since()
	s, err := e.o.Connector.Connect(e.runCtx, spec, &handler{e: e, dev: dev, epoch: epoch})
	now := e.since()
	d.mu.Lock()
	if d.conn != epoch {
		// The device was deactivated meanwhile: the attempt's outcome
		// is not used.
		g := int(d.group)
		d.mu.Unlock()
		if s != nil {
			_ = s.Close()
		}
		e.record(ConnectUnfinished, g, 0, "")
		return
	}
	g := int(d.group)
	if err != nil && e.runCtx.Err() != nil {
		// The run ended under the attempt: it neither failed nor
		// succeeded.
		d.state = stateIdle
		d.mu.Unlock()
		e.record(ConnectUnfinished, g, 0, "")
		return
	}
	if err != nil {
		e.retry(dev, d, now)
		d.mu.Unlock()
		e.record(ConnectFailed, g, 0, ErrorKind(err))
		return
	}
	d.sess, d.state, d.attempt, d.lastWrite, d.upAt = s, stateConnected, 0, now, now
	if !d.started {
		d.started = true
		e.startChains(dev, d, min(due, now))
	}
	if _, ok := s.(Pinger); ok && spec.Connect.KeepAlive > 0 {
		e.schedule(dev, jobPing, epoch, 0, now+spec.Connect.KeepAlive)
	}
	pending, early := d.pending, d.x.takeEarly()
	d.pending, d.waking = nil, false
	d.mu.Unlock()
	e.record(Connected, g, now-t0, "")
	h := &handler{e: e, dev: dev, epoch: epoch}
	for _, r := range early {
		h.reply(r.tok, r.payload)
	}
	e.flush(dev, epoch, pending)
	if spec.Connect.PerReport {
		// Only now: a linger that fired before the flush would close
		// the session under the sends it woke up for.
		e.schedule(dev, jobLinger, epoch, 0, e.since()+spec.Connect.Linger)
	}
}

// flush sends what a per-report device held while it woke up.
func (e *Engine) flush(dev int, epoch uint32, pending []pendingSend) {
	if len(pending) == 0 {
		return
	}
	d := &e.devs[dev]
	sc := new(scratch)
	for _, p := range pending {
		e.outstanding.Add(-1) // it is sent now, or fails
		d.mu.Lock()
		if d.conn != epoch {
			d.mu.Unlock()
			e.record(PublishFailed, int(d.group), 0, "offline")
			continue
		}
		// The wake-up is the device's, not the generator's: the schedule
		// lag runs from the slot to when it fired, the wake's start.
		e.send(dev, d, e.groups[d.group].flow(p.kind), p.intended, p.at, p.intended, sc)
	}
}

// wake queues a send on a per-report device that is not connected, and
// starts connecting if it sleeps. d.mu is held and released.
func (e *Engine) wake(dev int, d *device, kind uint8, intended, now time.Duration) {
	if len(d.pending) >= maxPending || d.state == stateOffline {
		g := int(d.group)
		d.mu.Unlock()
		e.record(PublishFailed, g, 0, "offline")
		return
	}
	d.pending = append(d.pending, pendingSend{kind: kind, intended: intended, at: now})
	e.outstanding.Add(1) // the drain waits for the device to wake and send
	woke := d.state == stateAsleep
	slept := now - d.asleepAt
	if woke {
		d.state = stateWaiting
		e.schedule(dev, jobConnect, d.life, connectCarries, now+e.wakeDraw(dev, d, e.groups[d.group].g.Wake))
	}
	g := int(d.group)
	d.mu.Unlock()
	if woke {
		e.record(Woke, g, slept, "")
	}
}

// lingerPoll is how often a per-report device checks whether its
// acknowledgements are in before it disconnects.
const lingerPoll = 10 * time.Millisecond

// linger puts a per-report device back to sleep once nothing is in flight
// (or its connect timeout has passed waiting for acks).
func (e *Engine) linger(j job, now time.Duration) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	if d.conn != j.epoch || d.state != stateConnected {
		d.mu.Unlock()
		return
	}
	timeout := e.groups[d.group].g.Connect.Timeout
	if len(d.inflight) > 0 && (timeout <= 0 || now-d.upAt < timeout) {
		e.schedule(dev, jobLinger, j.epoch, 0, now+lingerPoll)
		d.mu.Unlock()
		return
	}
	s := d.sess
	d.sess, d.state, d.asleepAt = nil, stateAsleep, now
	d.conn++
	dropped := e.dropInflight(d)
	d.sleep()
	g := int(d.group)
	d.mu.Unlock()
	e.unacked(g, d.timed, dropped)
	// Close waits for the session's reader to end: off the shard loop,
	// which must not wait on a socket while other devices fall due.
	e.dials.Go(func() {
		_ = s.Close()
		e.record(Closed, g, 0, "")
	})
}

// retry schedules the next connect attempt per the group's backoff, or
// gives up. d.mu is held.
func (e *Engine) retry(dev int, d *device, now time.Duration) {
	gs := &e.groups[d.group]
	d.retries++
	r := rand.New(rand.NewPCG(e.plan.Seed, mix(e.plan.Seed, dev, purposeBackoff, uint64(d.retries))))
	delay, ok := gs.g.Reconnect.Delay(int(d.attempt), r)
	if gs.g.Connect.PerReport && (!ok || len(d.pending) == 0) {
		e.outstanding.Add(-int64(len(d.pending)))
		for range d.pending {
			e.record(PublishFailed, int(d.group), 0, "offline")
		}
		d.pending, d.state, d.attempt, d.asleepAt = nil, stateAsleep, 0, now
		return
	}
	if !ok {
		d.state = stateOffline
		return
	}
	d.attempt++
	d.state = stateWaiting
	slot := uint64(0)
	if len(d.pending) > 0 {
		slot = connectCarries
	}
	e.schedule(dev, jobConnect, d.life, slot, now+delay)
	e.record(Reconnecting, int(d.group), 0, "")
}

// startChains queues the first slot at or after now of each periodic
// flow. d.mu is held.
func (e *Engine) startChains(dev int, d *device, now time.Duration) {
	gs := &e.groups[d.group]
	if gs.tele != nil {
		e.startChain(dev, d, jobTelemetry, gs.tele.sched, now)
		if b := gs.g.Telemetry.Bursts; b != nil && b.Every > 0 && b.Count > 0 {
			e.schedule(dev, jobBurst, d.life, 0, now+burstGap(e.plan.Seed, dev, 0, b.Every))
		}
	}
	if gs.g.Commands != nil {
		e.startChain(dev, d, jobCommand, gs.cmd, now)
	}
	if gs.req != nil {
		e.startChain(dev, d, jobRequest, gs.req.sched, now)
	}
}

// startChain queues a flow's first slot due at or after now. d.mu is held.
func (e *Engine) startChain(dev int, d *device, kind uint8, p periodic, now time.Duration) {
	seed := e.plan.Seed
	k := p.firstSlot(seed, dev, now)
	for p.due(seed, dev, k) < now {
		k++
	}
	e.schedule(dev, kind, d.life, k, p.due(seed, dev, k))
}

// next queues slot k+1 of a periodic flow and returns slot k's intended
// time. d.mu is held.
func (e *Engine) next(j job, p periodic, d *device) time.Duration {
	dev := int(j.dev)
	e.schedule(dev, j.kind, d.life, j.slot+1, p.due(e.plan.Seed, dev, j.slot+1))
	return p.due(e.plan.Seed, dev, j.slot)
}

// begin takes d.mu for a periodic job and reports whether it still
// applies; it queues the job's next slot. On false d.mu is released.
func (e *Engine) begin(j job, p periodic) (*device, time.Duration, bool) {
	d := &e.devs[j.dev]
	d.mu.Lock()
	if d.life != j.epoch {
		d.mu.Unlock()
		return nil, 0, false
	}
	return d, e.next(j, p, d), true
}

// devicePublish runs a telemetry or request slot: it sends, or wakes a
// sleeping per-report device to send.
func (e *Engine) devicePublish(j job, now time.Duration, sc *scratch) {
	gs := &e.groups[e.devs[j.dev].group]
	f := gs.flow(j.kind)
	d, intended, ok := e.begin(j, f.sched)
	if !ok {
		return
	}
	e.dispatch(int(j.dev), d, f, intended, now, sc)
}

// dispatch sends one message of a device-initiated flow now, or wakes the
// device first: a sleeping per-report device connects, an idle one pays
// its radio's wake-up. d.mu is held and released.
func (e *Engine) dispatch(dev int, d *device, f *flow, intended, now time.Duration, sc *scratch) {
	gs := &e.groups[d.group]
	if gs.g.Connect.PerReport && d.state != stateConnected {
		e.wake(dev, d, f.kind, intended, now)
		return
	}
	if w := gs.g.Wake; w != nil && d.state == stateConnected && (d.waking || now-d.lastWrite >= w.Inactivity) {
		e.rrc(dev, d, w, f.kind, intended, now)
		return
	}
	// Lag counts from when the device could send: a report that fell
	// due while it connected is late by the connect, not the generator.
	e.send(dev, d, f, intended, now, max(intended, d.upAt), sc)
}

// burst starts a device's burst: Count extra reports Spacing apart from
// its due time, and queues the next burst.
func (e *Engine) burst(j job) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	defer d.mu.Unlock()
	b := e.groups[d.group].g.Telemetry.Bursts
	if d.life != j.epoch {
		return
	}
	e.schedule(dev, jobBurst, d.life, j.slot+1, j.due+burstGap(e.plan.Seed, dev, j.slot+1, b.Every))
	for i := range b.Count {
		at := j.due + time.Duration(i)*b.Spacing
		e.schedule(dev, jobBurstSend, d.life, uint64(at), at)
	}
}

// burstSend sends one report of a burst; its slot is its intended time.
func (e *Engine) burstSend(j job, now time.Duration, sc *scratch) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	if d.life != j.epoch {
		d.mu.Unlock()
		return
	}
	e.dispatch(dev, d, e.groups[d.group].tele, time.Duration(j.slot), now, sc)
}

// wakeDraw is the device's next wake-up cost, which it pays now: a radio
// promotion out of idle. d.mu is held.
func (e *Engine) wakeDraw(dev int, d *device, w *Wake) time.Duration {
	if w == nil {
		return 0
	}
	d.wakes++
	cost := w.Min + time.Duration(uniform(mix(e.plan.Seed, dev, purposeWake, uint64(d.wakes)), int64(w.Max-w.Min)+1))
	e.record(Promoted, int(d.group), cost, "")
	return cost
}

// rrc holds a send of an idle, connected device for its radio's wake-up
// (RRC setup). d.mu is held and released.
func (e *Engine) rrc(dev int, d *device, w *Wake, kind uint8, intended, now time.Duration) {
	if len(d.pending) >= maxPending {
		g := int(d.group)
		d.mu.Unlock()
		e.record(PublishFailed, g, 0, errQueueFull)
		return
	}
	d.pending = append(d.pending, pendingSend{kind: kind, intended: intended, at: now})
	e.outstanding.Add(1)
	if !d.waking {
		d.waking = true
		e.schedule(dev, jobWake, d.conn, 0, now+e.wakeDraw(dev, d, w))
	}
	d.mu.Unlock()
}

// woken sends what waited for the radio's wake-up.
func (e *Engine) woken(j job) {
	dev := int(j.dev)
	d := &e.devs[dev]
	d.mu.Lock()
	if d.conn != j.epoch {
		d.mu.Unlock()
		return
	}
	d.waking = false
	pending := d.pending
	d.pending = nil
	d.mu.Unlock()
	e.flush(dev, j.epoch, pending)
	d.mu.Lock()
	d.lastWrite = max(d.lastWrite, e.since())
	d.mu.Unlock()
}

// send publishes one message of a device-initiated flow; its schedule
// lag runs from lagFrom to now. d.mu is held and released.
func (e *Engine) send(dev int, d *device, f *flow, intended, now, lagFrom time.Duration, sc *scratch) {
	g := int(d.group)
	if reason := d.cannotSend(f); reason != "" {
		d.mu.Unlock()
		e.record(PublishFailed, g, 0, reason)
		return
	}
	if r := e.groups[g].g.Radio; r.active() {
		e.hold(dev, d, r, f.kind, intended, now, sc)
		return
	}
	seq := d.next(f.kind)
	e.payloadRand(dev, d, f)
	v := e.vars(dev, d, seq, Token{Kind: f.token, Device: uint32(dev), Seq: seq, Intended: intended}, sc)
	sc.render(f.topic, f.payload, f.size, &v)
	if f.short {
		d.stamp(f.token, seq, intended)
	}
	ref := e.track(d, f, intended)
	s := d.sess
	e.uplinked(dev, d, now)
	awaited := e.awaits(d, f) // the backend's delivery, or its answer
	d.mu.Unlock()
	if awaited {
		e.outstanding.Add(1)
	}
	if err := s.Send(f.message(ref, bstr(sc.topic), sc.payload)); err != nil {
		e.untrack(d, ref, awaited)
		e.record(PublishFailed, g, 0, ErrorKind(err))
		return
	}
	e.recordSent(f, g, max(0, now-lagFrom), intended, awaited)
}

// awaits reports whether the backend answers or times a message of flow
// f from d: requests (unless their acknowledgement answers them),
// telemetry when the device is in the sample.
func (e *Engine) awaits(d *device, f *flow) bool {
	if e.o.Receiver == nil || f.reply || f.inline {
		return false
	}
	return f.kind != jobTelemetry || d.timed
}

// recordSent records a message of flow f written to its session: lag is
// how late the generator wrote it.
func (e *Engine) recordSent(f *flow, g int, lag, intended time.Duration, timed bool) {
	e.o.Recorder.Record(Event{Kind: f.sent, Group: g, At: e.since(), Latency: lag, Intended: intended,
		Timed: timed && f.kind == jobTelemetry})
}

// dropInflight forgets the device's unacknowledged messages, which the
// drain no longer awaits, and returns the intended times of the telemetry
// among them. d.mu is held.
func (e *Engine) dropInflight(d *device) []time.Duration {
	var tele []time.Duration
	for _, f := range d.inflight {
		if f.kind == jobTelemetry {
			tele = append(tele, f.intended)
		}
	}
	e.outstanding.Add(-int64(d.drop()))
	return tele
}

// unacked records telemetry given up without an acknowledgement.
func (e *Engine) unacked(g int, timed bool, intended []time.Duration) {
	at := e.since()
	for _, t := range intended {
		e.o.Recorder.Record(Event{Kind: Unacked, Group: g, At: at, Intended: t, Timed: timed})
	}
}

// track registers a message of f that awaits its acknowledgement and
// returns its reference (0 when none is awaited). d.mu is held and
// d.cannotSend(f) was "".
func (e *Engine) track(d *device, f *flow, intended time.Duration) Ref {
	if !f.needsRef() {
		return 0
	}
	ref := d.allocRef()
	d.inflight = append(d.inflight, inflight{ref: ref, kind: f.kind, intended: intended})
	e.outstanding.Add(1)
	return ref
}

// untrack undoes track (and an expected delivery) after a failed write.
func (e *Engine) untrack(d *device, ref Ref, delivery bool) {
	if delivery {
		e.outstanding.Add(-1)
	}
	if ref == 0 {
		return
	}
	d.mu.Lock()
	if _, ok := d.ack(ref); ok {
		e.outstanding.Add(-1)
	}
	d.mu.Unlock()
}

func (e *Engine) command(j job, now time.Duration, sc *scratch) {
	gs := &e.groups[e.devs[j.dev].group]
	d, intended, ok := e.begin(j, gs.cmd)
	if !ok {
		return
	}
	if d.state != stateConnected && !gs.g.Connect.PerReport {
		d.mu.Unlock()
		return
	}
	d.cmdSeq++
	c := gs.g.Commands
	v := e.vars(int(j.dev), d, d.cmdSeq, Token{Kind: TokenCommand, Device: uint32(j.dev), Seq: d.cmdSeq, Intended: intended}, sc)
	sc.render(c.Topic, c.Payload, c.Size, &v)
	if gs.cmdShort {
		d.stamp(TokenCommand, d.cmdSeq, intended)
	}
	d.mu.Unlock()
	e.outstanding.Add(1)
	e.post(outMsg{topic: string(sc.topic), payload: bytes.Clone(sc.payload), qos: c.QoS, group: gs.idx,
		command: true, intended: intended})
}

func (e *Engine) ping(j job, now time.Duration) {
	d := &e.devs[j.dev]
	d.mu.Lock()
	if d.conn != j.epoch || d.state != stateConnected {
		d.mu.Unlock()
		return
	}
	ka := e.groups[d.group].g.Connect.KeepAlive
	s, _ := d.sess.(Pinger)
	send := now-d.lastWrite >= ka*9/10
	if send {
		// An uplink: it restarts the sleep timers. It is not charged to
		// the radio's airtime: where the radio has a duty cycle
		// (LoRaWAN, Sigfox) the connection is the network server's
		// backhaul, not the device's, and a cellular device's frames
		// have no airtime model.
		e.uplinked(int(j.dev), d, now)
	}
	e.schedule(int(j.dev), jobPing, j.epoch, 0, d.lastWrite+ka)
	d.mu.Unlock()
	if send {
		_ = s.Ping()
	}
}

// payloadRand gives the device its seeded random source the first time a
// payload needs one. d.mu is held.
func (e *Engine) payloadRand(dev int, d *device, f *flow) {
	if f.payload.Uses("rand") && !d.seeded {
		d.pcg.Seed(e.plan.Seed^uint64(purposePayload), uint64(dev))
		d.seeded = true
	}
}
