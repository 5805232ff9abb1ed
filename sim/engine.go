package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options are what an Engine consumes besides its Plan.
type Options struct {
	Connector Connector
	// Receiver takes what devices send to the backend: telemetry (timed
	// end to end), command replies and requests. Nil runs devices without
	// one: no end-to-end figures, and commands or requests that need a
	// backend are refused.
	Receiver Receiver
	// Sender sends the backend's commands and answers. Nil refuses the
	// plans that need one, as for Receiver.
	Sender   Sender
	Recorder Recorder
	Logger   *slog.Logger
	// Shards is the number of due-time queues [GOMAXPROCS].
	Shards int
	// Tick is how often stage levels are re-evaluated [100ms].
	Tick time.Duration
	// BackendTimeout bounds each backend call: a subscription, or one
	// command or answer waiting for the backend's connection or its room
	// for unacknowledged messages [10s].
	BackendTimeout time.Duration
	// BackendQueue is how many commands and answers may wait for the
	// backend; when it is full a new one fails as backend_busy [4096].
	BackendQueue int
	// BackendSenders is how many goroutines send them [4].
	BackendSenders int
	// Part is the shard of the fleet this engine runs; the zero Part
	// runs it all.
	Part Part
	// KernelTimers wakes the shards with kernel timers (Linux's timerfd)
	// rather than Go's, which fire up to 1 ms late while the process is
	// idle. Not under testing/synctest, whose clock is Go's. Elsewhere
	// than Linux it is ignored.
	KernelTimers bool
}

func (o Options) withDefaults() Options {
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recorder == nil {
		o.Recorder = RecorderFunc(func(Event) {})
	}
	if o.BackendTimeout <= 0 {
		o.BackendTimeout = 10 * time.Second
	}
	if o.BackendQueue <= 0 {
		o.BackendQueue = 4096
	}
	if o.BackendSenders <= 0 {
		o.BackendSenders = 4
	}
	return o
}

// Engine runs one Plan once.
type Engine struct {
	plan   *Plan
	o      Options
	start  time.Time
	devs   []device
	groups []groupState
	shards []*shard
	// outstanding counts what the drain waits for: acks, deliveries,
	// replies and answers that are still due.
	outstanding atomic.Int64
	// draining is set when the schedule ends: shards then only finish
	// work under way (acks, radio frames, paging, lingering sessions),
	// and the new work that was due before the plan's end, however late
	// they come to it, so that what is sent is fixed by the schedule.
	draining atomic.Bool
	// cut is set when the run was interrupted: no new work at all.
	cut    atomic.Bool
	ether  ether          // frames on air, for radios that can collide
	dials  sync.WaitGroup // connect goroutines, and per-report disconnects
	runCtx context.Context
	// outbox holds the backend's commands and answers for its senders, so
	// that neither a shard nor a delivery ever waits on the backend.
	outbox  chan outMsg
	senders sync.WaitGroup
	// stopped is set once Run has closed every session: deliveries that
	// still arrive are not recorded.
	stopped   atomic.Bool
	live      atomic.Bool   // set once start is: deliveries may be timed
	abort     chan struct{} // closed by Abort
	abortOnce sync.Once
	// horizon is how far ahead of the run clock the controller has
	// activated devices; controller only.
	horizon time.Duration
}

// groupState is a group's derived, read-only schedule plus the
// controller's activation cursor.
type groupState struct {
	g                       *Group
	idx                     int
	base                    int   // fleet index of the group's first device
	tele, req               *flow // nil when the group has none
	reply                   *flow // command replies through a radio queue
	cmd                     periodic
	cmdShort                bool          // commands carry short tokens
	active                  int           // devices activated; controller only
	nextConnect             time.Duration // next free connect slot; controller only
	ord                     order         // activation order; controller only
	lo, hi                  int           // the group-local devices this engine runs
	backendSub, deviceSub   []Subscription
	backendQoS, commandsQoS byte
}

// flow is a device-initiated message flow: telemetry or requests.
type flow struct {
	kind           uint8 // jobTelemetry or jobRequest; jobCommand for replies
	reply          bool  // command replies: no event of their own, no delivery awaited
	token          TokenKind
	sent           EventKind
	topic, payload *Template
	size           int
	qos            byte
	retain         bool
	sched          periodic
	short          bool // its payload carries a short token
	inline         bool // requests answered in their own exchange: acknowledged always
	wire           Flow
}

// message builds a message of f.
func (f *flow) message(ref Ref, dest string, payload []byte) Message {
	return Message{Ref: ref, Flow: f.wire, Dest: dest, Payload: payload, QoS: f.qos, Retain: f.retain}
}

// needsRef says whether a message of f awaits an acknowledgement: QoS
// above 0, or a request whose acknowledgement is its answer.
func (f *flow) needsRef() bool { return f.qos > 0 || f.inline }

// flow returns the group's flow for a job kind.
func (gs *groupState) flow(kind uint8) *flow {
	if kind == jobTelemetry {
		return gs.tele
	}
	return gs.req
}

// ErrNoBackend is returned by New for a plan that needs a backend (a
// Receiver and a Sender) when none was given.
var ErrNoBackend = errors.New("plan has commands or requests but no backend was given")

// New checks the plan against the options and prepares the fleet.
func New(p *Plan, o Options) (*Engine, error) {
	o = o.withDefaults()
	if o.Connector == nil {
		return nil, errors.New("sim: no connector")
	}
	if err := o.Part.check(); err != nil {
		return nil, err
	}
	n := p.Devices()
	if n > 0 && o.Part.Devices(p) == 0 {
		return nil, fmt.Errorf("sim: shard %d of %d has no devices (the fleet has %d)", o.Part.Index, o.Part.Count, n)
	}
	if n > 1<<24-1 {
		return nil, fmt.Errorf("sim: %d devices: at most %d fit the measurement token", n, 1<<24-1)
	}
	e := &Engine{plan: p, o: o, devs: make([]device, n), abort: make(chan struct{}),
		outbox: make(chan outMsg, o.BackendQueue)}
	base := 0
	for i := range p.Groups {
		g := &p.Groups[i]
		if !o.backed() && (g.Commands != nil || (g.Requests != nil && !g.InlineAnswers)) {
			return nil, fmt.Errorf("sim: group %q: %w", g.Name, ErrNoBackend)
		}
		if err := g.check(); err != nil {
			return nil, fmt.Errorf("sim: group %q: %w", g.Name, err)
		}
		gs := newGroupState(g, i, base)
		gs.lo, gs.hi = o.Part.Range(g.Count)
		e.groups = append(e.groups, gs)
		for j := 0; j < g.Count; j++ {
			d := &e.devs[base+j]
			d.group = uint16(i)
			d.timed = o.Receiver != nil && !g.Untimed && g.Telemetry != nil && j >= gs.lo && j < gs.hi &&
				p.E2E.picks(p.Seed, base+j)
		}
		base += g.Count
	}
	for range o.Shards {
		e.shards = append(e.shards, newShard(n/o.Shards+1)) // a job per active device
	}
	return e, nil
}

func newGroupState(g *Group, idx, base int) groupState {
	gs := groupState{g: g, idx: idx, base: base, ord: newOrder(g.Count)}
	if t := g.Telemetry; t != nil {
		gs.tele = &flow{kind: jobTelemetry, wire: FlowTelemetry, token: TokenTelemetry, sent: Published,
			topic: t.Topic, payload: t.Payload, size: t.Size, qos: t.QoS, retain: t.Retain,
			sched: periodic{every: t.Every, jitter: t.Jitter, aligned: t.Aligned, p: purposeTelemetry, driftPPM: t.DriftPPM},
			short: t.Payload.Uses("track8")}
	}
	if c := g.Commands; c != nil {
		gs.cmd = periodic{every: c.Every, jitter: c.Jitter, p: purposeCommand}
		gs.reply = &flow{kind: jobCommand, wire: FlowReply, reply: true, qos: c.QoS}
		gs.cmdShort = c.Payload.Uses("track8")
		gs.backendSub = append(gs.backendSub, Subscription{Topic: c.ReplyTopic.Filter(), QoS: c.QoS, Group: idx})
	}
	if r := g.Requests; r != nil {
		gs.req = &flow{kind: jobRequest, wire: FlowRequest, token: TokenRequest, sent: RequestSent,
			topic: r.Topic, payload: r.Payload, size: r.Size, qos: r.QoS,
			sched: periodic{every: r.Every, jitter: r.Jitter, p: purposeRequest},
			short: r.Payload.Uses("track8"), inline: g.InlineAnswers}
		if !g.InlineAnswers {
			gs.backendSub = append(gs.backendSub, Subscription{Topic: r.Topic.Filter(), QoS: r.QoS, Group: idx})
		}
	}
	return gs
}

// backed says whether the backend has both its roles.
func (o *Options) backed() bool { return o.Receiver != nil && o.Sender != nil }

// since is the run clock: time since Run started.
func (e *Engine) since() time.Duration { return time.Since(e.start) }

func (e *Engine) record(k EventKind, group int, lat time.Duration, err string) {
	e.o.Recorder.Record(Event{Kind: k, Group: group, At: e.since(), Latency: lat, Err: err})
}

func (e *Engine) shardOf(dev int) *shard { return e.shards[dev%len(e.shards)] }

func (e *Engine) schedule(dev int, kind uint8, epoch uint32, slot uint64, due time.Duration) {
	e.shardOf(dev).push(job{due: due, dev: int32(dev), kind: kind, epoch: epoch, slot: slot})
}

// Run executes the plan: it activates devices as the stages say, runs the
// schedule until the plan's duration or until ctx ends, then stops the
// schedule, drains in-flight work for at most Plan.Drain (cut short by
// Abort) and closes every session. It returns after all of its
// goroutines, within the drain of the schedule's end whatever the servers
// do. An interrupted run is not an error: ctx.Err() tells the caller.
//
// If the Recorder has a Started(time.Time) method, Run calls it with the
// origin of Event.At before any event.
func (e *Engine) Run(ctx context.Context) error {
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	e.runCtx = runCtx
	if err := e.subscribe(ctx); err != nil {
		return err
	}
	e.start = time.Now()
	e.live.Store(true)
	if s, ok := e.o.Recorder.(interface{ Started(time.Time) }); ok {
		s.Started(e.start)
	}
	if e.o.Sender != nil {
		for range e.o.BackendSenders {
			e.senders.Go(func() { e.sendLoop(runCtx) })
		}
	}
	shardCtx, stopShards := context.WithCancel(runCtx)
	if e.o.KernelTimers {
		e.setAlarms()
	}
	var shards sync.WaitGroup
	for _, s := range e.shards {
		shards.Go(func() {
			sc := new(scratch)
			s.run(shardCtx, e.since, func(j job, now time.Duration) { e.fire(j, now, sc) })
		})
	}
	e.control(ctx)
	e.draining.Store(true)
	e.drain()
	stopShards()
	shards.Wait()
	e.dropAlarms()
	stopRun()
	e.senders.Wait()
	e.dials.Wait() // before closeAll, so each attempt is accounted for
	e.dropOutbox()
	e.closeAll()
	e.stopped.Store(true)
	return nil
}

// setAlarms gives every shard a kernel timer; a shard that cannot have
// one keeps Go's, and the log says so once.
func (e *Engine) setAlarms() {
	for _, s := range e.shards {
		a, err := newAlarm()
		if err != nil {
			e.o.Logger.Warn("sim: no kernel timer; the schedule runs on Go's, up to 1 ms late while idle", "err", err)
			return
		}
		s.mu.Lock()
		s.alarm = a
		s.mu.Unlock()
	}
}

// dropAlarms closes the shards' kernel timers once the shards stopped;
// jobs pushed after that wake no one, as with Go's timers.
func (e *Engine) dropAlarms() {
	for _, s := range e.shards {
		s.mu.Lock()
		a := s.alarm
		s.alarm = nil
		s.mu.Unlock()
		if a != nil {
			a.close()
		}
	}
}

// Abort cuts a run short: the schedule stops and the drain ends at once,
// so Run closes every session without waiting for what is in flight. It
// is safe to call from any goroutine, any number of times.
func (e *Engine) Abort() { e.abortOnce.Do(func() { close(e.abort) }) }

func (e *Engine) subscribe(ctx context.Context) error {
	if e.o.Receiver == nil {
		return nil
	}
	subs := e.backendSubs()
	if len(subs) == 0 {
		return nil
	}
	// A sample of a large fleet subscribes device by device: allow the
	// broker a second per thousand filters on top.
	ctx, cancel := context.WithTimeout(ctx, e.o.BackendTimeout+time.Duration(len(subs)/1000)*time.Second)
	defer cancel()
	if err := e.o.Receiver.Subscribe(ctx, subs, e.deliver); err != nil {
		return fmt.Errorf("backend subscribe: %w", err)
	}
	return nil
}

// backendSubs lists what the backend listens to, each filter once:
// telemetry of the devices it times (by their own topic when only some
// are), command replies and requests.
func (e *Engine) backendSubs() []Subscription {
	var subs []Subscription
	seen := map[string]bool{}
	add := func(s Subscription) {
		if !seen[s.Topic] {
			seen[s.Topic] = true
			subs = append(subs, s)
		}
	}
	for i := range e.groups {
		gs := &e.groups[i]
		if t := gs.g.Telemetry; t != nil {
			all := t.Topic.Filter()
			for dev := gs.base; dev < gs.base+gs.g.Count; dev++ {
				d := &e.devs[dev]
				if !d.timed {
					continue
				}
				if e.plan.E2E == nil {
					add(Subscription{Topic: all, QoS: t.QoS, Group: i})
					break
				}
				v := Vars{ID: e.clientID(dev, d), Index: dev - gs.base, Device: dev, Group: gs.g.Name}
				add(Subscription{Topic: t.Topic.DeviceFilter(&v), QoS: t.QoS, Group: i})
			}
		}
		for _, s := range gs.backendSub {
			add(s)
		}
	}
	return subs
}

// control moves the number of active devices along the stages until the
// plan's duration is over or ctx ends.
func (e *Engine) control(ctx context.Context) {
	t := time.NewTicker(e.o.Tick)
	defer t.Stop()
	end := time.NewTimer(e.plan.Duration)
	defer end.Stop()
	total := e.plan.Devices()
	e.horizon = -1
	for {
		e.setLevel(e.since(), total)
		select {
		case <-ctx.Done():
			e.cut.Store(true)
			return
		case <-e.abort:
			e.cut.Store(true)
			return
		case <-end.C:
			return
		case <-t.C:
		}
	}
}

// setLevel activates devices a tick ahead of the stages, each at the exact
// time the stage curve reaches it (see reach), and deactivates those the
// stages no longer want. Groups share the level in proportion to their
// size; within a group devices go in activation order (see order).
func (e *Engine) setLevel(now time.Duration, total int) {
	if total == 0 {
		return
	}
	ahead := now + e.o.Tick
	for i := range e.groups {
		gs := &e.groups[i]
		up := groupTarget(e.plan.Stages, total, gs.g.Count, ahead)
		for gs.active < up {
			at := reach(e.plan.Stages, total, gs.g.Count, gs.active, e.horizon, ahead)
			e.activate(gs, gs.base+gs.ord.next(), at)
			gs.active++
		}
		down := max(up, groupTarget(e.plan.Stages, total, gs.g.Count, now))
		for gs.active > down {
			gs.active--
			if dev := gs.base + gs.ord.prev(); e.owns(dev) {
				e.deactivate(dev)
			}
		}
	}
	e.horizon = ahead
}

// activate starts dev at run time at. Connect slots are paced over the
// whole group, whichever process runs each device, so a shard's devices
// connect when they would in one process.
func (e *Engine) activate(gs *groupState, dev int, at time.Duration) {
	slot := at
	if !gs.g.Connect.PerReport {
		slot = max(at, gs.nextConnect)
		gs.nextConnect = slot + gs.g.Connect.Rate.Interval()
	}
	if !e.owns(dev) {
		return
	}
	d := &e.devs[dev]
	d.mu.Lock()
	d.life++
	d.state = stateWaiting
	d.started, d.attempt = false, 0
	life := d.life
	if gs.g.Connect.PerReport {
		d.state, d.started, d.asleepAt = stateAsleep, true, at
		e.startChains(dev, d, at)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	e.schedule(dev, jobConnect, life, 0, slot)
}

// deactivate closes dev's session, if any, and invalidates its jobs.
func (e *Engine) deactivate(dev int) {
	d := &e.devs[dev]
	d.mu.Lock()
	d.life++
	d.conn++
	d.state = stateIdle
	unsent := len(d.pending) + d.x.unsent()
	// Sends waiting for a wake-up, held and on-air frames, and commands
	// held for the device were awaited by the drain.
	e.outstanding.Add(-int64(unsent + d.x.pagedLen()))
	d.pending, d.waking = nil, false
	d.x.forget()
	s := d.sess
	d.sess = nil
	dropped := e.dropInflight(d)
	d.mu.Unlock()
	g := int(d.group)
	for range unsent {
		e.record(PublishFailed, g, 0, errUnsent)
	}
	if s != nil {
		_ = s.Close()
		e.record(Closed, g, 0, "")
	}
	e.unacked(g, d.timed, dropped)
}

// drain waits until nothing is outstanding, the plan's drain time is up
// or the run is aborted.
func (e *Engine) drain() {
	deadline := time.Now().Add(e.plan.Drain)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for (e.outstanding.Load() > 0 || e.scheduleLeft()) && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-e.abort:
			return
		}
	}
}

func (e *Engine) closeAll() {
	var wg sync.WaitGroup
	n := len(e.shards)
	for k := range n {
		wg.Go(func() {
			for i := k; i < len(e.devs); i += n {
				e.deactivate(i)
			}
		})
	}
	wg.Wait()
}
