package sim

import "time"

// handler receives one connection's session events for a device. epoch
// ties it to that connection: events from an older one are ignored.
type handler struct {
	e     *Engine
	dev   int
	epoch uint32
}

// Acked ends a QoS 1/2 flow and times telemetry acknowledgements.
func (h *handler) Acked(id uint16) {
	d := &h.e.devs[h.dev]
	d.mu.Lock()
	f, ok := d.ack(id)
	g := int(d.group)
	d.mu.Unlock()
	if !ok {
		return
	}
	h.e.outstanding.Add(-1)
	if f.timed {
		at := h.e.since()
		h.e.o.Recorder.Record(Event{Kind: Acked, Group: g, At: at, Latency: at - f.intended})
	}
}

// Message handles what the backend sends a device: a command, which the
// device answers at once, or the answer to one of its requests.
func (h *handler) Message(topic string, payload []byte) {
	tok, off, ok := findToken(payload)
	if !ok || int(tok.Device) != h.dev {
		return
	}
	switch tok.Kind {
	case TokenCommand:
		if h.e.held(h.dev, h.epoch, tok, rekind(payload, off, TokenReply)) {
			return
		}
		h.reply(tok, rekind(payload, off, TokenReply))
	case TokenAnswer:
		e := h.e
		d := &e.devs[h.dev]
		e.outstanding.Add(-1)
		at := e.since()
		e.o.Recorder.Record(Event{Kind: RequestAnswered, Group: int(d.group), At: at, Latency: at - tok.Intended})
	}
}

// reply publishes a command's reply from the device.
func (h *handler) reply(tok Token, payload []byte) {
	e := h.e
	d := &e.devs[h.dev]
	d.mu.Lock()
	gs := &e.groups[d.group]
	c := gs.g.Commands
	if d.conn == h.epoch && d.state == stateConnecting && len(d.early) < maxPending {
		d.early = append(d.early, earlyReply{tok: tok, payload: payload})
		d.mu.Unlock()
		return
	}
	if d.conn != h.epoch || d.cannotSend(c.QoS) != "" {
		d.mu.Unlock()
		return
	}
	v := e.vars(h.dev, d, tok.Seq, tok)
	topic := c.ReplyTopic.Render(&v)
	if r := gs.g.Radio; r.active() {
		// A reply is an uplink like any other: it waits for the radio.
		now := e.since()
		closed := d.radioBusy(now)
		if closed && r.Drop {
			d.mu.Unlock()
			e.record(PublishFailed, gs.idx, 0, errDutyCycle)
			return
		}
		fr := &frame{f: gs.reply, intended: now, topic: []byte(topic), payload: payload}
		e.enqueue(h.dev, d, r, fr, closed, now)
		return
	}
	id := e.track(d, c.QoS, false, tok.Intended)
	s := d.sess
	d.lastWrite = e.since()
	d.mu.Unlock()
	if err := s.Publish(id, topic, payload, c.QoS, false); err != nil {
		e.untrack(d, id, false)
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
	e.outstanding.Add(-int64(d.drop()))
	e.retry(h.dev, d, e.since())
	g := int(d.group)
	d.mu.Unlock()
	e.record(Disconnected, g, 0, ErrorKind(err))
}

// deliver is the backend's inbound path: telemetry is timed end to end,
// command replies close their round trip, and requests get an answer.
func (e *Engine) deliver(topic string, payload []byte) {
	tok, off, ok := findToken(payload)
	if !ok || int(tok.Device) >= len(e.devs) {
		return
	}
	d := &e.devs[tok.Device]
	g := int(d.group)
	at := e.since()
	switch tok.Kind {
	case TokenTelemetry:
		d.mu.Lock()
		dup := d.dedup.seen(tok.Seq)
		d.mu.Unlock()
		if dup {
			e.record(Duplicate, g, 0, "")
			return
		}
		e.outstanding.Add(-1)
		e.o.Recorder.Record(Event{Kind: Delivered, Group: g, At: at, Latency: at - tok.Intended})
	case TokenReply:
		e.outstanding.Add(-1)
		e.o.Recorder.Record(Event{Kind: CommandReplied, Group: g, At: at, Latency: at - tok.Intended})
	case TokenRequest:
		e.answer(int(tok.Device), d, tok, rekind(payload, off, TokenAnswer))
	}
}

// answer publishes the backend's answer to a device's request.
func (e *Engine) answer(dev int, d *device, tok Token, payload []byte) {
	gs := &e.groups[d.group]
	r := gs.g.Requests
	if r == nil {
		return
	}
	d.mu.Lock()
	v := e.vars(dev, d, tok.Seq, tok)
	d.mu.Unlock()
	topic := r.ReplyTopic.Render(&v)
	if err := e.o.Backend.Publish(e.runCtx, topic, payload, r.QoS); err != nil {
		e.record(PublishFailed, gs.idx, 0, "backend_"+ErrorKind(err))
	}
}

// held keeps a command that reached an idle device between paging
// windows until the next window, and reports whether it did.
func (e *Engine) held(dev int, epoch uint32, tok Token, reply []byte) bool {
	d := &e.devs[dev]
	g := e.groups[d.group].g
	classA := g.Radio != nil && g.Radio.ClassA
	if g.Sleep == nil && !classA {
		return false
	}
	now := e.since()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != epoch {
		return false
	}
	at := now
	switch {
	case classA:
		// Until the next RX1: the one after the last uplink if it has not
		// opened yet, else the one after the next uplink (at -1).
		at = -1
		if rx1 := d.uplinkEnd + RXDelay; d.uplinkEnd > 0 && now <= rx1 {
			at = rx1
		}
	default:
		phase := time.Duration(uniform(mix(e.plan.Seed, dev, purposePaging, 0), int64(g.Sleep.EDRX)))
		at = g.Sleep.reachable(now, d.lastWrite, phase)
		if at <= now {
			return false
		}
	}
	if len(d.paged) >= maxPending {
		return true // the device's downlink buffer is full: the command is lost
	}
	d.paged = append(d.paged, earlyReply{tok: tok, payload: reply, at: now})
	if at >= 0 {
		e.schedule(dev, jobPage, epoch, 0, at)
	}
	return true
}

// page handles the commands held for a paging window that has come.
func (e *Engine) page(j job) {
	d := &e.devs[j.dev]
	d.mu.Lock()
	paged := d.paged
	d.paged = nil
	ok := d.conn == j.epoch
	d.mu.Unlock()
	if !ok {
		return
	}
	h := &handler{e: e, dev: int(j.dev), epoch: j.epoch}
	now := e.since()
	for _, r := range paged {
		e.record(DownlinkWait, int(d.group), now-r.at, "")
		h.reply(r.tok, r.payload)
	}
}
