package netem

// Direction names one side of a Path: Up from the device to the server,
// Down back.
type Direction int

// The directions of a Path.
const (
	Up Direction = iota
	Down
)

// String returns "up" or "down".
func (d Direction) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// Emit receives a packet when it is due. pkt is valid only during the call.
// It runs on a shard's goroutine (or, for a zero profile, on Send's caller),
// so it must not block for long.
type Emit func(d Direction, pkt []byte)

// Path shapes whole packets (IP packets from a TUN device, say) as
// datagrams, for one device and both directions: the packet-level entry
// to the engine, with exactly the datagram semantics of PacketConn except
// that the packet carries its own headers, so rate and slot bytes count
// len(pkt) plus PacketOverhead. A Path has no goroutine: each direction is
// one task in its shard's due-time queue, and emit runs when a packet is
// due. A Path works while its Shaper runs.
type Path struct {
	sh    *shard
	s     *Shaper
	emit  Emit
	dirs  [2]pathDir
	stats struct{ up, down counters }
}

// pathDir is one direction of a Path as its shard sees it.
type pathDir struct {
	p    *Path
	d    Direction
	pipe *pipe
	task task
}

// Path returns a packet-level link shaped by l (Up for what the device
// sends), seeded from (seed, device) per direction as a device's first
// conn is, that hands due packets to emit. l should be valid
// (Link.Validate).
func (s *Shaper) Path(l Link, seed uint64, device int, emit Emit) *Path {
	sh := s.shard(device)
	p := &Path{sh: sh, s: s, emit: emit}
	now := s.now()
	rnd, aux := newSources(seed, device, dirUp, 0)
	p.dirs[Up] = pathDir{p: p, d: Up, pipe: newPipe(l.Up, false, 0, rnd, aux, now, &p.stats.up, &sh.up)}
	rnd, aux = newSources(seed, device, dirDown, 0)
	p.dirs[Down] = pathDir{p: p, d: Down, pipe: newPipe(l.Down, false, 0, rnd, aux, now, &p.stats.down, &sh.down)}
	for i := range p.dirs {
		p.dirs[i].task = task{idx: -1, f: &p.dirs[i]}
	}
	return p
}

// Send queues a copy of pkt in direction d; it never blocks. Like the
// kernel's netem, a full queue drops the packet silently (counted in
// Stats). It returns ErrStopped once the Shaper has stopped.
func (p *Path) Send(d Direction, pkt []byte) error {
	pd := &p.dirs[d&1]
	pp := pd.pipe
	if pp.identity {
		if p.sh.isStopped() {
			return ErrStopped
		}
		p.emit(d, pkt)
		pp.count(&pp.stats.sent, &pp.shard.sent)
		return nil
	}
	now := p.s.now()
	pp.mu.Lock()
	old := pp.nextWake(now)
	pp.enqueueDatagram(now, pkt, nil, 0)
	pp.touchSlot(now)
	wake := pp.nextWake(now)
	pp.mu.Unlock()
	if wake != 0 && (old == 0 || wake < old) && !p.sh.schedule(&pd.task, wake) {
		pd.abort()
		return ErrStopped
	}
	return nil
}

// Stats returns the Path's counters: Up and Down as sent by Send's caller.
func (p *Path) Stats() Stats {
	return Stats{Up: p.stats.up.snapshot(), Down: p.stats.down.snapshot()}
}

// flush emits the due packets; it runs on the shard's goroutine.
func (pd *pathDir) flush(now int64) int64 {
	pp := pd.pipe
	for {
		pp.mu.Lock()
		it, ok, wake := pp.dequeue(now)
		pp.mu.Unlock()
		if !ok {
			return wake
		}
		pd.p.emit(pd.d, it.buf)
		pp.count(&pp.stats.sent, &pp.shard.sent)
		putBuf(it.buf)
	}
}

// abort drops the queue once the shard has stopped.
func (pd *pathDir) abort() {
	pd.pipe.mu.Lock()
	defer pd.pipe.mu.Unlock()
	pd.pipe.drain()
}
