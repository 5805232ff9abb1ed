package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Plan is a complete, defaulted and validated description of a run. The
// scenarios package builds it from YAML; tests build it directly.
type Plan struct {
	Name     string
	Seed     uint64
	Duration time.Duration
	Groups   []Group
	// Stages change the number of active devices over time. Empty means
	// every device is active for the whole run.
	Stages []Stage
	// Drain bounds how long the engine waits for in-flight work (acks,
	// deliveries, replies) after the schedule stops.
	Drain time.Duration
	// E2E picks the devices whose telemetry the backend times end to end;
	// nil times every device.
	E2E *Sampling
}

// Sampling picks the devices whose telemetry the backend times end to
// end. Timing costs the server under test: every timed message is
// delivered a second time, to the backend.
type Sampling struct {
	// Fraction of each group's devices, chosen by the seed: 0 times
	// none, 1 all.
	Fraction float64
}

// picks reports whether device dev is timed end to end.
func (s *Sampling) picks(seed uint64, dev int) bool {
	if s == nil {
		return true
	}
	return float64(uniform(mix(seed, dev, purposeSample, 0), 1<<53)) < s.Fraction*(1<<53)
}

// Timed counts the devices of group g (an index into Groups) that p.E2E
// picks: the sample the backend times end to end.
func (p *Plan) Timed(g int) int {
	base := 0
	for i := range g {
		base += p.Groups[i].Count
	}
	if p.Groups[g].Telemetry == nil || p.Groups[g].Untimed {
		return 0
	}
	n := 0
	for dev := base; dev < base+p.Groups[g].Count; dev++ {
		if p.E2E.picks(p.Seed, dev) {
			n++
		}
	}
	return n
}

// Devices is the fleet size: the sum of the group counts.
func (p *Plan) Devices() int {
	n := 0
	for _, g := range p.Groups {
		n += g.Count
	}
	return n
}

// Stage ramps the number of active devices linearly from the previous
// stage's level (zero before the first stage) to Devices over Duration.
type Stage struct {
	Name     string
	Duration time.Duration
	Devices  int
}

// Group is a set of identical devices.
type Group struct {
	Name  string
	Count int
	// Protocol names the group's protocol ("mqtt", "coap") for reports;
	// the engine does not read it.
	Protocol string
	// InlineAnswers says the protocol answers a request in the device's
	// own exchange (a CoAP or HTTP response): a request's acknowledgement
	// is its answer, and no backend takes part.
	InlineAnswers bool
	// Untimed says no backend receives the group's telemetry, so none of
	// it is timed end to end, whatever the plan's sampling.
	Untimed   bool
	ClientID  *Template
	Connect   Connect
	Reconnect Backoff
	// Telemetry is periodic device-to-backend reporting; nil for none.
	Telemetry *Telemetry
	// Commands are backend-initiated exchanges: the backend publishes on
	// Topic, the device answers on ReplyTopic. Nil for none.
	Commands *Exchange
	// Requests are device-initiated exchanges: the device publishes on
	// Topic, the backend answers on ReplyTopic. Nil for none.
	Requests *Exchange
	// Radio constrains when and how much a device may send; nil for none.
	Radio *Radio
	// Sleep makes idle devices reachable only in paging windows; nil for
	// always reachable.
	Sleep *Sleep
	// Wake is the radio's cost of leaving idle; nil for none.
	Wake *Wake
}

// Wake is the extra latency of the first uplink from idle (RACH and RRC
// connection setup): a device that has sent nothing for Inactivity, or a
// per-report device waking, waits a time drawn uniformly from [Min, Max]
// before its uplink leaves.
type Wake struct {
	Min, Max   time.Duration
	Inactivity time.Duration
}

// Sleep is cellular idle mode. A device that has sent nothing for
// Inactivity drops from connected to idle. Idle with EDRX set, it hears
// the network only in paging windows, one every EDRX cycle (at the
// device's own random phase) and open for PTW, so a downlink arriving
// between windows waits for the next one: its latency spreads over
// 0..EDRX-PTW. With TAU set the device also has power saving mode (PSM):
// Active (T3324) after going idle it becomes unreachable until its next
// uplink or its periodic tracking area update, TAU (T3412) after it went
// idle, which connects it like an uplink does and restarts the cycle.
type Sleep struct {
	EDRX       time.Duration
	PTW        time.Duration
	Inactivity time.Duration
	Active     time.Duration
	TAU        time.Duration
}

// listen returns when a device whose last uplink was at last (and whose
// paging windows open at phase) hears a downlink arriving at t: t itself
// while it is connected or inside a paging window, else the next window
// or, in PSM, the next TAU. idle reports whether the device is out of
// connected mode at t, so that reaching it costs a wake-up (paging, RACH
// and RRC setup) on top.
func (s *Sleep) listen(t, last, phase time.Duration) (at time.Duration, idle bool) {
	if s == nil {
		return t, false
	}
	since := max(0, t-last)
	psm := time.Duration(math.MaxInt64) // when the device enters PSM
	next := psm                         // its next TAU
	if s.TAU > 0 {
		// A TAU connects the device as an uplink would: the cycle
		// restarts from the latest of them.
		cycle := s.Inactivity + s.TAU
		start := t - since%cycle
		since = t - start
		psm, next = start+s.Inactivity+s.Active, start+cycle
		if t >= psm {
			return next, true
		}
	}
	if since < s.Inactivity {
		return t, false
	}
	if s.EDRX <= 0 {
		return t, true
	}
	w := phase
	if t >= phase {
		w = phase + (t-phase)/s.EDRX*s.EDRX
		if t < w+s.PTW {
			return t, true
		}
		w += s.EDRX
	}
	if w >= psm {
		return next, true
	}
	return w, true
}

// Listen is listen for code outside the engine that models a device's
// downlink itself (a transport whose server reaches the device without
// the engine): when a device whose last uplink was at last, and whose
// paging windows open at phase, hears what reaches it at t, and whether
// it was idle then. Times are offsets from any one origin.
func (s *Sleep) Listen(t, last, phase time.Duration) (at time.Duration, idle bool) {
	return s.listen(t, last, phase)
}

// PagingPhase is where fleet device dev's paging windows open in its eDRX
// cycle: the phase the engine gives it under the run's seed.
func (s *Sleep) PagingPhase(seed uint64, dev int) time.Duration {
	return time.Duration(uniform(mix(seed, dev, purposePaging, 0), int64(max(s.EDRX, 1))))
}

// asleep is how long a device whose last uplink was at last has spent in
// PSM by now.
func (s *Sleep) asleep(last, now time.Duration) time.Duration {
	if s == nil || s.TAU <= 0 || now <= last {
		return 0
	}
	cycle := s.Inactivity + s.TAU
	awake := s.Inactivity + s.Active // each cycle starts with this much
	span := now - last
	n := span / cycle
	total := n * (cycle - awake)
	if rem := span - n*cycle; rem > awake {
		total += rem - awake
	}
	return total
}

// Radio is a radio's constraints on a device's sends: time on air, a
// regulatory duty cycle and a payload cap. With them each device sends
// through its own queue: one message on air at a time, then the band
// stays closed for airtime*(1/DutyCycle - 1).
type Radio struct {
	// Airtime is the time on air of a payload of n bytes; nil for none.
	// A message reaches the network when its airtime is over.
	Airtime func(n int) time.Duration
	// DutyCycle is the fraction of time a device may transmit (0.01 for
	// 1 %); 0 for no limit.
	DutyCycle float64
	// MaxPayload refuses larger payloads; 0 for no cap.
	MaxPayload int
	// Queue bounds the sends a device holds while its band is closed
	// [16]; QueueBytes, when set, bounds their payload bytes too. When
	// either is full the newest send is dropped, or with DropOldest the
	// oldest held ones make room (the freshest readings get out).
	Queue      int
	QueueBytes int
	DropOldest bool
	// Drop drops a send that finds the band closed instead of holding it.
	Drop bool
	// PerDay caps the frames a device may send in each 24 h of the run
	// (Sigfox: 140); sends past it are refused. 0 for no cap.
	PerDay int
	// Channels, when set, puts frames on a medium shared by the fleet
	// (one LoRa gateway): each frame goes out on a channel drawn at random
	// and may be lost to frames that overlap it there. Domain is the
	// frame's spreading factor. Without Capture two overlapping frames of
	// the same Domain are both lost and other Domains never interfere
	// (pure ALOHA); with Capture a frame survives when its received power
	// is far enough above the interference, per spreading factor pair, and
	// one of the gateway's 8 demodulators is free (see ether).
	Channels int
	Domain   int
	Capture  bool
	// MinInterval is the shortest time between the starts of two frames
	// the modem allows (Iridium SBD: about 40 s); 0 for none.
	MinInterval time.Duration
	// AfterUplink is downlink that reaches the device only after one of
	// its uplinks (LoRaWAN class A, Sigfox, Iridium SBD): a receive window
	// opens RXDelay after each uplink leaves the air and carries one
	// downlink, the oldest waiting; a command waits for such a window.
	// DownPerDay, when set, is how many windows a device asks for a day
	// (Sigfox: 4): on its first uplink in each 24h/DownPerDay.
	AfterUplink bool
	RXDelay     time.Duration
	DownPerDay  int
	// DownAirtime is the time on air of a downlink of n bytes, added to
	// its delivery (LoRaWAN: RX1 at the uplink's data rate, or class C's
	// RX2); a device on air cannot listen. Nil for none.
	DownAirtime func(n int) time.Duration
	// MaxDownPayload refuses larger downlinks (Sigfox: 8 B); 0 for no cap.
	MaxDownPayload int
}

// active reports whether r constrains anything.
func (r *Radio) active() bool {
	return r != nil && (r.Airtime != nil || r.DutyCycle > 0 || r.MaxPayload > 0 || r.PerDay > 0 ||
		r.MinInterval > 0 || r.AfterUplink)
}

// queue is the hold queue's bound.
func (r *Radio) queue() int {
	if r.Queue > 0 {
		return r.Queue
	}
	return 16
}

// fits reports whether a payload of n bytes fits a queue holding count
// frames of total bytes.
func (r *Radio) fits(count, bytes, n int) bool {
	return count < r.queue() && (r.QueueBytes <= 0 || bytes+n <= r.QueueBytes)
}

// busy is how long the band stays closed after a message of the given
// airtime starts.
func (r *Radio) busy(air time.Duration) time.Duration {
	if r.DutyCycle > 0 && r.DutyCycle < 1 {
		air = time.Duration(float64(air) / r.DutyCycle)
	}
	return max(air, r.MinInterval)
}

// listens reports whether downlink to the device needs more than an open
// connection: a receive window, airtime or a size check.
func (r *Radio) listens() bool {
	return r.timesDownlink() || (r != nil && r.MaxDownPayload > 0)
}

// timesDownlink reports whether the radio decides when a downlink
// arrives: a receive window after uplinks, or the downlink's airtime.
func (r *Radio) timesDownlink() bool {
	return r != nil && (r.AfterUplink || r.DownAirtime != nil)
}

// Connect describes how a device connects.
type Connect struct {
	// Rate paces the group's first connects (the connect ramp).
	Rate         Rate
	Timeout      time.Duration
	KeepAlive    time.Duration
	CleanSession bool
	// PerReport makes devices sleep without a connection between reports:
	// a due report or request wakes the device, which connects, sends
	// what is pending, waits for its acknowledgements and for Linger,
	// then disconnects. Report latency then includes the wake-up.
	PerReport bool
	Linger    time.Duration
}

// Telemetry is periodic reporting.
type Telemetry struct {
	Every time.Duration
	// Jitter moves each report uniformly within +/- Jitter of its slot.
	Jitter time.Duration
	// Aligned makes every device report at the same phase; by default each
	// device starts at a random phase within Every.
	Aligned bool
	Topic   *Template
	Payload *Template
	// Size pads the rendered payload with spaces up to this many bytes.
	Size   int
	QoS    byte
	Retain bool
	// Bursts adds event bursts to the periodic reports; nil for none.
	Bursts *Bursts
	// DriftPPM bounds each device's clock error in parts per million
	// (crystals: 20-100): over a day at 100 ppm a device's reports move by
	// up to 8.6 s from the nominal schedule.
	DriftPPM float64
}

// Bursts are exception reports (an alarm, a door forced open): at random
// times, Every apart on average (exponential gaps, as a Poisson process),
// a device sends Count extra reports Spacing apart.
type Bursts struct {
	Every   time.Duration
	Count   int
	Spacing time.Duration
}

// Exchange is a request/response pair of messages between device and
// backend, timed as a round trip.
type Exchange struct {
	Every      time.Duration
	Jitter     time.Duration
	Topic      *Template
	ReplyTopic *Template
	Payload    *Template
	Size       int
	QoS        byte
}

// Rate is a frequency: Freq events per Per.
type Rate struct {
	Freq int
	Per  time.Duration
}

// Interval is the time between two events at rate r; zero for an unset or
// unlimited rate.
func (r Rate) Interval() time.Duration {
	if r.Freq <= 0 || r.Per <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.Freq)
}

// String formats r the way ParseRate reads it.
func (r Rate) String() string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "s"}, {time.Minute, "m"}, {time.Hour, "h"}, {time.Millisecond, "ms"}} {
		if r.Per == u.d {
			return fmt.Sprintf("%d/%s", r.Freq, u.name)
		}
	}
	return fmt.Sprintf("%d/%s", r.Freq, r.Per)
}

// ParseRate reads "500/s", "30/m", "10/1h" or "2/500ms".
func ParseRate(s string) (Rate, error) {
	num, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/unit, such as 500/s", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("rate %q: count must be a positive whole number", s)
	}
	per = strings.TrimSpace(per)
	switch per {
	case "s":
		per = "1s"
	case "m", "min":
		per = "1m"
	case "h":
		per = "1h"
	case "ms":
		per = "1ms"
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("rate %q: unit must be s, m, h or a duration such as 500ms", s)
	}
	return Rate{Freq: n, Per: d}, nil
}

// UnmarshalText lets encoders read a Rate from text.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalText writes a Rate as text.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// BackoffPolicy names how reconnect delays grow.
type BackoffPolicy uint8

// Backoff policies.
const (
	BackoffNone        BackoffPolicy = iota // do not reconnect
	BackoffFixed                            // Initial every time
	BackoffExponential                      // Initial * 2^attempt, capped at Max
	BackoffFullJitter                       // uniform in [0, min(Max, Initial * 2^attempt))
)

var backoffNames = [...]string{"none", "fixed", "exponential", "full-jitter"}

// String returns the policy's scenario name.
func (p BackoffPolicy) String() string {
	if int(p) < len(backoffNames) {
		return backoffNames[p]
	}
	return "BackoffPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ParseBackoffPolicy reads a policy name.
func ParseBackoffPolicy(s string) (BackoffPolicy, error) {
	for i, n := range backoffNames {
		if s == n {
			return BackoffPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("backoff %q: want one of %s", s, strings.Join(backoffNames[:], ", "))
}

// Backoff is a reconnect policy.
type Backoff struct {
	Policy  BackoffPolicy
	Initial time.Duration
	Max     time.Duration
}

// Delay returns the wait before reconnect attempt number attempt (0 for the
// first retry), and false when the policy gives up.
func (b Backoff) Delay(attempt int, r *rand.Rand) (time.Duration, bool) {
	switch b.Policy {
	case BackoffFixed:
		return b.Initial, true
	case BackoffExponential, BackoffFullJitter:
		d := b.Initial
		for i := 0; i < attempt && (b.Max <= 0 || d < b.Max) && d < math.MaxInt64/2; i++ {
			d *= 2
		}
		if b.Max > 0 && d > b.Max {
			d = b.Max
		}
		if b.Policy == BackoffFullJitter && d > 0 {
			d = time.Duration(r.Int64N(int64(d)))
		}
		return d, true
	}
	return 0, false
}

// check rejects what the engine cannot run; the scenarios package gives
// users positioned messages for the same rules first.
func (g *Group) check() error {
	if g.ClientID == nil {
		return errors.New("no client ID template")
	}
	if g.Connect.PerReport && g.Telemetry == nil && g.Requests == nil {
		return errors.New("per-report devices need telemetry or requests to wake them")
	}
	if t := g.Telemetry; t != nil && (t.Every <= 0 || t.Topic == nil || t.Payload == nil) {
		return errors.New("telemetry needs a positive period, a topic and a payload")
	}
	for _, x := range []*Exchange{g.Commands, g.Requests} {
		inline := x == g.Requests && g.InlineAnswers
		if x != nil && (x.Every <= 0 || x.Topic == nil || (x.ReplyTopic == nil && !inline) || x.Payload == nil) {
			return errors.New("commands and requests need a positive period, topics and a payload")
		}
	}
	return nil
}
