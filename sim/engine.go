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
	// Backend receives telemetry (end-to-end timing) and exchanges
	// commands and requests. Nil runs devices without a backend: no
	// end-to-end figures, and commands or requests are refused.
	Backend  Backend
	Recorder Recorder
	Logger   *slog.Logger
	// Shards is the number of due-time queues [GOMAXPROCS].
	Shards int
	// Tick is how often stage levels are re-evaluated [100ms].
	Tick time.Duration
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
	// work under way (acks, radio frames, paging, lingering sessions).
	draining atomic.Bool
	ether    ether          // frames on air, for radios that can collide
	dials    sync.WaitGroup // connect goroutines
	runCtx   context.Context
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
}

// flow returns the group's flow for a job kind.
func (gs *groupState) flow(kind uint8) *flow {
	if kind == jobTelemetry {
		return gs.tele
	}
	return gs.req
}

// ErrNoBackend is returned by New for a plan that needs a Backend when
// none was given.
var ErrNoBackend = errors.New("plan has commands or requests but no backend was given")

// New checks the plan against the options and prepares the fleet.
func New(p *Plan, o Options) (*Engine, error) {
	o = o.withDefaults()
	if o.Connector == nil {
		return nil, errors.New("sim: no connector")
	}
	n := p.Devices()
	if n > 1<<24-1 {
		return nil, fmt.Errorf("sim: %d devices: at most %d fit the measurement token", n, 1<<24-1)
	}
	e := &Engine{plan: p, o: o, devs: make([]device, n)}
	base := 0
	for i := range p.Groups {
		g := &p.Groups[i]
		if o.Backend == nil && (g.Commands != nil || g.Requests != nil) {
			return nil, fmt.Errorf("sim: group %q: %w", g.Name, ErrNoBackend)
		}
		if err := g.check(); err != nil {
			return nil, fmt.Errorf("sim: group %q: %w", g.Name, err)
		}
		e.groups = append(e.groups, newGroupState(g, i, base))
		for j := 0; j < g.Count; j++ {
			e.devs[base+j].group = uint16(i)
		}
		base += g.Count
	}
	for range o.Shards {
		e.shards = append(e.shards, newShard())
	}
	return e, nil
}

func newGroupState(g *Group, idx, base int) groupState {
	gs := groupState{g: g, idx: idx, base: base}
	if t := g.Telemetry; t != nil {
		gs.tele = &flow{kind: jobTelemetry, token: TokenTelemetry, sent: Published,
			topic: t.Topic, payload: t.Payload, size: t.Size, qos: t.QoS, retain: t.Retain,
			sched: periodic{every: t.Every, jitter: t.Jitter, aligned: t.Aligned, p: purposeTelemetry, driftPPM: t.DriftPPM},
			short: t.Payload.Uses("track8")}
		gs.backendSub = append(gs.backendSub, Subscription{Topic: t.Topic.Filter(), QoS: t.QoS})
	}
	if c := g.Commands; c != nil {
		gs.cmd = periodic{every: c.Every, jitter: c.Jitter, p: purposeCommand}
		gs.reply = &flow{kind: jobCommand, reply: true, qos: c.QoS}
		gs.cmdShort = c.Payload.Uses("track8")
		gs.backendSub = append(gs.backendSub, Subscription{Topic: c.ReplyTopic.Filter(), QoS: c.QoS})
	}
	if r := g.Requests; r != nil {
		gs.req = &flow{kind: jobRequest, token: TokenRequest, sent: RequestSent,
			topic: r.Topic, payload: r.Payload, size: r.Size, qos: r.QoS,
			sched: periodic{every: r.Every, jitter: r.Jitter, p: purposeRequest},
			short: r.Payload.Uses("track8")}
		gs.backendSub = append(gs.backendSub, Subscription{Topic: r.Topic.Filter(), QoS: r.QoS})
	}
	return gs
}

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
// schedule, drains in-flight work for at most Plan.Drain and closes every
// session. It returns after all of its goroutines. An interrupted run is
// not an error: ctx.Err() tells the caller.
func (e *Engine) Run(ctx context.Context) error {
	e.start = time.Now()
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	e.runCtx = runCtx
	if err := e.subscribe(ctx); err != nil {
		return err
	}
	shardCtx, stopShards := context.WithCancel(runCtx)
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
	stopRun()
	e.closeAll()
	e.dials.Wait()
	return nil
}

func (e *Engine) subscribe(ctx context.Context) error {
	if e.o.Backend == nil {
		return nil
	}
	var subs []Subscription
	seen := map[string]bool{}
	for _, gs := range e.groups {
		for _, s := range gs.backendSub {
			if !seen[s.Topic] {
				seen[s.Topic] = true
				subs = append(subs, s)
			}
		}
	}
	if len(subs) == 0 {
		return nil
	}
	if err := e.o.Backend.Subscribe(ctx, subs, e.deliver); err != nil {
		return fmt.Errorf("backend subscribe: %w", err)
	}
	return nil
}

// control moves the number of active devices along the stages until the
// plan's duration is over or ctx ends.
func (e *Engine) control(ctx context.Context) {
	t := time.NewTicker(e.o.Tick)
	defer t.Stop()
	end := time.NewTimer(e.plan.Duration)
	defer end.Stop()
	total := e.plan.Devices()
	for {
		e.setLevel(level(e.plan.Stages, total, e.since()), total)
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			return
		case <-t.C:
		}
	}
}

// setLevel activates or deactivates devices, group by group in
// proportion to group size, so that want devices are active.
func (e *Engine) setLevel(want, total int) {
	if total == 0 {
		return
	}
	now := e.since()
	for i := range e.groups {
		gs := &e.groups[i]
		target := int(int64(want) * int64(gs.g.Count) / int64(total))
		for gs.active < target {
			e.activate(gs, gs.base+gs.active, now)
			gs.active++
		}
		for gs.active > target {
			gs.active--
			e.deactivate(gs.base + gs.active)
		}
	}
}

func (e *Engine) activate(gs *groupState, dev int, now time.Duration) {
	d := &e.devs[dev]
	d.mu.Lock()
	d.life++
	d.state = stateWaiting
	d.started, d.attempt = false, 0
	life := d.life
	if gs.g.Connect.PerReport {
		d.state, d.started, d.asleepAt = stateAsleep, true, now
		e.startChains(dev, d, now)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	slot := max(now, gs.nextConnect)
	gs.nextConnect = slot + gs.g.Connect.Rate.Interval()
	e.schedule(dev, jobConnect, life, 0, slot)
}

// deactivate closes dev's session, if any, and invalidates its jobs.
func (e *Engine) deactivate(dev int) {
	d := &e.devs[dev]
	d.mu.Lock()
	d.life++
	d.conn++
	d.state = stateIdle
	unsent := len(d.held) + len(d.pending)
	if d.air != nil {
		unsent++
	}
	// Sends waiting for a wake-up, held and on-air frames, and commands
	// held for the device were awaited by the drain.
	e.outstanding.Add(-int64(unsent + len(d.paged)))
	d.pending, d.early, d.held, d.air, d.paged, d.waking, d.heldBytes = nil, nil, nil, nil, nil, false, 0
	s := d.sess
	d.sess = nil
	e.outstanding.Add(-int64(d.drop()))
	d.mu.Unlock()
	for range unsent {
		e.record(PublishFailed, int(d.group), 0, errUnsent)
	}
	if s != nil {
		_ = s.Close()
		e.record(Closed, int(d.group), 0, "")
	}
}

// drain waits until nothing is outstanding or the plan's drain time is up.
func (e *Engine) drain() {
	deadline := time.Now().Add(e.plan.Drain)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for e.outstanding.Load() > 0 && time.Now().Before(deadline) {
		<-t.C
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
