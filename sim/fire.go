package sim

import (
	"math/rand/v2"
	"time"
	"unsafe"
)

// scratch is a shard's reusable render space. Sessions and backends must
// not retain topic or payload after Publish returns, which is what lets
// one buffer serve every message of a shard.
type scratch struct {
	topic, payload []byte
}

// bstr views b as a string without copying; only for calls that do not
// retain it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (e *Engine) fire(j job, now time.Duration, sc *scratch) {
	switch j.kind {
	case jobConnect:
		e.connect(j)
	case jobTelemetry:
		e.telemetry(j, now, sc)
	case jobCommand:
		e.command(j, now, sc)
	case jobRequest:
		e.request(j, now, sc)
	case jobPing:
		e.ping(j, now)
	}
}

func (e *Engine) vars(dev int, d *device, seq uint32, tok Token) Vars {
	gs := &e.groups[d.group]
	return Vars{ID: d.id, Index: dev - gs.base, Device: dev, Group: gs.g.Name, Seq: seq,
		Now: e.start.Add(tok.Intended), Rand: d.rng, Track: tok}
}

// render writes the topic and the payload (token appended when the
// template does not place it, padded to size) into sc.
func (sc *scratch) render(topic, payload *Template, size int, v *Vars) {
	sc.topic = topic.Append(sc.topic[:0], v)
	sc.payload = payload.Append(sc.payload[:0], v)
	if !payload.Uses("track") {
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
	if d.id == "" {
		d.id = gs.g.ClientID.Render(&Vars{Index: dev - gs.base, Device: dev, Group: gs.g.Name})
	}
	spec := ConnectSpec{ClientID: d.id, Connect: gs.g.Connect, Subscribe: e.deviceSubs(gs, dev, d.id), Device: dev}
	d.mu.Unlock()
	e.dials.Add(1)
	go e.dial(dev, epoch, spec)
}

// deviceSubs renders the topics a device listens on: its commands and the
// answers to its requests.
func (e *Engine) deviceSubs(gs *groupState, dev int, id string) []Subscription {
	v := Vars{ID: id, Index: dev - gs.base, Device: dev, Group: gs.g.Name}
	var subs []Subscription
	if c := gs.g.Commands; c != nil {
		subs = append(subs, Subscription{Topic: c.Topic.Render(&v), QoS: c.QoS})
	}
	if r := gs.g.Requests; r != nil {
		subs = append(subs, Subscription{Topic: r.ReplyTopic.Render(&v), QoS: r.QoS})
	}
	return subs
}

// dial runs on its own goroutine for the length of one connect attempt.
func (e *Engine) dial(dev int, epoch uint32, spec ConnectSpec) {
	defer e.dials.Done()
	d := &e.devs[dev]
	t0 := e.since()
	s, err := e.o.Connector.Connect(e.runCtx, spec, &handler{e: e, dev: dev, epoch: epoch})
	now := e.since()
	d.mu.Lock()
	if d.conn != epoch {
		d.mu.Unlock()
		if s != nil {
			_ = s.Close()
		}
		return
	}
	g := int(d.group)
	if err != nil {
		e.retry(dev, d, now)
		d.mu.Unlock()
		e.record(ConnectFailed, g, 0, ErrorKind(err))
		return
	}
	d.sess, d.state, d.attempt, d.everUp, d.lastWrite = s, stateConnected, 0, true, now
	if !d.started {
		d.started = true
		e.startChains(dev, d, now)
	}
	if ka := spec.Connect.KeepAlive; ka > 0 {
		e.schedule(dev, jobPing, epoch, 0, now+ka)
	}
	d.mu.Unlock()
	e.record(Connected, g, now-t0, "")
}

// retry schedules the next connect attempt per the group's backoff, or
// gives up. d.mu is held.
func (e *Engine) retry(dev int, d *device, now time.Duration) {
	gs := &e.groups[d.group]
	d.retries++
	r := rand.New(rand.NewPCG(e.plan.Seed, mix(e.plan.Seed, dev, purposeBackoff, uint64(d.retries))))
	delay, ok := gs.g.Reconnect.Delay(int(d.attempt), r)
	if !ok {
		d.state = stateOffline
		return
	}
	d.attempt++
	d.state = stateWaiting
	e.schedule(dev, jobConnect, d.life, 0, now+delay)
	e.record(Reconnecting, int(d.group), 0, "")
}

// startChains queues the first slot at or after now of each periodic
// flow. d.mu is held.
func (e *Engine) startChains(dev int, d *device, now time.Duration) {
	gs := &e.groups[d.group]
	seed := e.plan.Seed
	for _, c := range []struct {
		on   bool
		kind uint8
		p    periodic
	}{{gs.g.Telemetry != nil, jobTelemetry, gs.tele}, {gs.g.Commands != nil, jobCommand, gs.cmd}, {gs.g.Requests != nil, jobRequest, gs.req}} {
		if c.on {
			k := c.p.firstSlot(seed, dev, now)
			for c.p.due(seed, dev, k) < now {
				k++
			}
			e.schedule(dev, c.kind, d.life, k, c.p.due(seed, dev, k))
		}
	}
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

func (e *Engine) telemetry(j job, now time.Duration, sc *scratch) {
	gs := &e.groups[e.devs[j.dev].group]
	d, intended, ok := e.begin(j, gs.tele)
	if !ok {
		return
	}
	t := gs.g.Telemetry
	if reason := d.cannotSend(t.QoS); reason != "" {
		d.mu.Unlock()
		e.record(PublishFailed, gs.idx, 0, reason)
		return
	}
	d.seq++
	tok := Token{Kind: TokenTelemetry, Device: uint32(j.dev), Seq: d.seq, Intended: intended}
	if t.Payload.Uses("rand") && d.rng == nil {
		d.rng = rand.New(rand.NewPCG(e.plan.Seed^uint64(purposePayload), uint64(j.dev)))
	}
	v := e.vars(int(j.dev), d, d.seq, tok)
	sc.render(t.Topic, t.Payload, t.Size, &v)
	id := e.track(d, t.QoS, true, intended)
	s := d.sess
	d.lastWrite = now
	d.mu.Unlock()
	if e.o.Backend != nil {
		e.outstanding.Add(1)
	}
	if err := s.Publish(id, bstr(sc.topic), sc.payload, t.QoS, t.Retain); err != nil {
		e.untrack(d, id, e.o.Backend != nil)
		e.record(PublishFailed, gs.idx, 0, ErrorKind(err))
		return
	}
	e.record(Published, gs.idx, max(0, now-intended), "")
}

// errInflightFull is the kind recorded for a publish refused because the
// device already has maxInflight unacknowledged messages.
const errInflightFull = "inflight_full"

// cannotSend says why the device cannot publish now, or "". d.mu is held.
func (d *device) cannotSend(qos byte) string {
	switch {
	case d.state != stateConnected:
		return "offline"
	case qos > 0 && len(d.inflight) >= maxInflight:
		return errInflightFull
	}
	return ""
}

// track registers a QoS 1/2 publish and returns its packet id (0 for QoS
// 0). d.mu is held and d.cannotSend(qos) was "".
func (e *Engine) track(d *device, qos byte, timed bool, intended time.Duration) uint16 {
	if qos == 0 {
		return 0
	}
	id := d.allocID()
	d.inflight = append(d.inflight, inflight{id: id, timed: timed, intended: intended})
	e.outstanding.Add(1)
	return id
}

// untrack undoes track (and an expected delivery) after a failed write.
func (e *Engine) untrack(d *device, id uint16, delivery bool) {
	if delivery {
		e.outstanding.Add(-1)
	}
	if id == 0 {
		return
	}
	d.mu.Lock()
	if _, ok := d.ack(id); ok {
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
	if d.state != stateConnected {
		d.mu.Unlock()
		return
	}
	d.cmdSeq++
	c := gs.g.Commands
	v := e.vars(int(j.dev), d, d.cmdSeq, Token{Kind: TokenCommand, Device: uint32(j.dev), Seq: d.cmdSeq, Intended: intended})
	sc.render(c.Topic, c.Payload, c.Size, &v)
	d.mu.Unlock()
	e.outstanding.Add(1)
	if err := e.o.Backend.Publish(e.runCtx, bstr(sc.topic), sc.payload, c.QoS); err != nil {
		e.outstanding.Add(-1)
		e.record(PublishFailed, gs.idx, 0, "backend_"+ErrorKind(err))
		return
	}
	e.record(CommandSent, gs.idx, max(0, now-intended), "")
}

func (e *Engine) request(j job, now time.Duration, sc *scratch) {
	gs := &e.groups[e.devs[j.dev].group]
	d, intended, ok := e.begin(j, gs.req)
	if !ok {
		return
	}
	r := gs.g.Requests
	if reason := d.cannotSend(r.QoS); reason != "" {
		d.mu.Unlock()
		e.record(PublishFailed, gs.idx, 0, reason)
		return
	}
	d.reqSeq++
	v := e.vars(int(j.dev), d, d.reqSeq, Token{Kind: TokenRequest, Device: uint32(j.dev), Seq: d.reqSeq, Intended: intended})
	sc.render(r.Topic, r.Payload, r.Size, &v)
	id := e.track(d, r.QoS, false, intended)
	s := d.sess
	d.lastWrite = now
	d.mu.Unlock()
	e.outstanding.Add(1)
	if err := s.Publish(id, bstr(sc.topic), sc.payload, r.QoS, false); err != nil {
		e.untrack(d, id, true)
		e.record(PublishFailed, gs.idx, 0, ErrorKind(err))
		return
	}
	e.record(RequestSent, gs.idx, max(0, now-intended), "")
}

func (e *Engine) ping(j job, now time.Duration) {
	d := &e.devs[j.dev]
	d.mu.Lock()
	if d.conn != j.epoch || d.state != stateConnected {
		d.mu.Unlock()
		return
	}
	ka := e.groups[d.group].g.Connect.KeepAlive
	s := d.sess
	send := now-d.lastWrite >= ka*9/10
	if send {
		d.lastWrite = now
	}
	e.schedule(int(j.dev), jobPing, j.epoch, 0, d.lastWrite+ka)
	d.mu.Unlock()
	if send {
		_ = s.Ping()
	}
}
