package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/netem"
	"github.com/m2msim/m2msim/transports/radio"
)

// validateLink resolves the group's radio profile and link overrides into
// the link its connections are shaped with.
func (g *Group) validateLink(t *tree, p string) {
	var base netem.Link
	var prof radio.Profile
	if g.Radio != "" {
		var err error
		prof, err = radio.Lookup(g.Radio)
		if err != nil {
			t.add(p+".radio", "%v (m2msim radios lists them)", err)
			return
		}
		base = prof.Link
		g.wake = wakeOf(prof, g.Sleep)
		if prof.Airtime != nil || prof.DutyCycle > 0 || prof.MaxPayload > 0 || prof.MessagesPerDay > 0 ||
			prof.MinInterval > 0 || prof.MaxDownPayload > 0 {
			g.limits = &sim.Radio{Airtime: prof.Airtime, DutyCycle: prof.DutyCycle, MaxPayload: prof.MaxPayload,
				PerDay: prof.MessagesPerDay, MinInterval: prof.MinInterval, MaxDownPayload: prof.MaxDownPayload,
				Queue: g.Queue, QueueBytes: int(g.QueueBytes),
				DropOldest: g.QueueDrop == DropOldest, Drop: g.OnBusy == OnBusyDrop}
			if sf, ok := loraSF(prof.Name); ok {
				g.limits.Channels, g.limits.Domain = euDefaultChannels, sf
			}
		}
	}
	g.validateCollisions(t, p)
	g.validateDownlink(t, p, prof)
	g.fitDefaults(t, p, prof)
	switch g.OnBusy {
	case OnBusyDefer, OnBusyDrop:
	default:
		t.add(p+".on_busy", "must be %s or %s, got %q", OnBusyDefer, OnBusyDrop, g.OnBusy)
	}
	if g.Queue < 1 || g.Queue > 1<<16 {
		t.add(p+".queue", "must be 1 to 65536, got %d", g.Queue)
	}
	if g.QueueBytes < 0 || g.QueueBytes > MaxSize {
		t.add(p+".queue_bytes", "must be 0 to %s, got %s", ByteSize(MaxSize), g.QueueBytes)
	}
	if g.QueueDrop != DropNewest && g.QueueDrop != DropOldest {
		t.add(p+".queue_drop", "must be %s or %s, got %q", DropNewest, DropOldest, g.QueueDrop)
	}
	g.validateSleep(t, p)
	up, okUp := overrideLink(t, p+".link.up", base.Up, g.Link.Up)
	down, okDown := overrideLink(t, p+".link.down", base.Down, g.Link.Down)
	if okUp && okDown {
		g.link = netem.Link{Up: up, Down: down}
	}
}

// validateCollisions resolves the LoRa collision model.
func (g *Group) validateCollisions(t *tree, p string) {
	lora := g.limits != nil && g.limits.Channels > 0
	switch {
	case g.Collisions == "" && lora:
		g.Collisions = CollisionsCapture
	case g.Collisions == "":
	case !lora:
		t.add(p+".collisions", "is how LoRaWAN frames collide at the gateway: it needs a lorawan radio, got %q", g.Radio)
		return
	case g.Collisions != CollisionsCapture && g.Collisions != CollisionsALOHA:
		t.add(p+".collisions", "must be %s or %s, got %q", CollisionsCapture, CollisionsALOHA, g.Collisions)
		return
	}
	if lora {
		g.limits.Capture = g.Collisions == CollisionsCapture
	}
}

// validateDownlink resolves when the group's devices hear the network,
// from the downlink key or the radio's default.
func (g *Group) validateDownlink(t *tree, p string, prof radio.Profile) {
	_, lora := loraSF(prof.Name)
	if g.Downlink == "" {
		switch {
		case lora:
			g.Downlink = DownlinkClassA
		case prof.Sleep.DownlinkAfterUplink:
			g.Downlink = DownlinkAfterUplink
		default:
			g.Downlink = DownlinkAlways
		}
	}
	switch g.Downlink {
	case DownlinkAlways:
	case DownlinkClassA, DownlinkClassC:
		if !lora {
			t.add(p+".downlink", "%s is LoRaWAN's: it needs a lorawan radio, got %q", g.Downlink, g.Radio)
			return
		}
		if g.Downlink == DownlinkClassC {
			// RX2 at DR0 between uplinks: the downlink's own airtime, and
			// DR0's payload cap.
			dr, _ := radio.LoRaDataRateFor(radio.LoRaRX2SF)
			g.limits.DownAirtime = func(n int) time.Duration { return radio.LoRaDownlinkAirtime(radio.LoRaRX2SF, n) }
			g.limits.MaxDownPayload = dr.MaxPayload
			return
		}
		fallthrough
	case DownlinkAfterUplink:
		if g.Radio == "" {
			t.add(p+".downlink", "%s needs a radio, whose uplinks open the receive windows", g.Downlink)
			return
		}
		if g.limits == nil {
			g.limits = &sim.Radio{Queue: g.Queue, QueueBytes: int(g.QueueBytes),
				DropOldest: g.QueueDrop == DropOldest, Drop: g.OnBusy == OnBusyDrop}
		}
		g.limits.AfterUplink, g.limits.RXDelay = true, prof.Sleep.RXWindow.Min
		g.limits.DownPerDay, g.limits.DownAirtime = prof.DownlinksPerDay, prof.DownAirtime
	default:
		t.add(p+".downlink", "must be %s, %s, %s or %s, got %q", DownlinkAlways, DownlinkAfterUplink,
			DownlinkClassA, DownlinkClassC, g.Downlink)
	}
}

// Bounds of the 3GPP PSM timers (TS 24.008 [K]): T3324 up to 31 units of
// 6 min; extended T3412 up to 31 units of 320 h.
const (
	maxT3324 = 186 * time.Minute
	maxT3412 = 31 * 320 * time.Hour
)

// validateSleep checks the group's idle-mode timers.
func (g *Group) validateSleep(t *tree, p string) {
	s := g.Sleep
	if s == nil {
		return
	}
	gp := p
	p += ".sleep"
	if g.Downlink != DownlinkAlways {
		t.add(p, "is cellular idle mode; a device with downlink: %s already listens only when its radio allows", g.Downlink)
		return
	}
	switch {
	case s.EDRX < 0:
		t.add(p+".edrx", "must be > 0, got %s", s.EDRX)
	case s.EDRX == 0 && s.PSM == nil:
		t.add(p, "needs edrx (paging windows), psm (power saving mode) or both")
	case s.EDRX == 0 && s.PTW != 0:
		t.add(p+".ptw", "is the paging window of an eDRX cycle: it needs edrx")
	case s.PTW < 0 || (s.EDRX > 0 && s.PTW >= s.EDRX):
		t.add(p+".ptw", "must be 0s or more and shorter than edrx %s, got %s", s.EDRX, s.PTW)
	}
	if s.Inactivity < 0 {
		t.add(p+".inactivity", "must be >= 0, got %s", s.Inactivity)
	}
	if s.PSM == nil {
		return
	}
	a, tau := s.PSM.Active, s.PSM.TAU
	switch {
	case !t.has(p + ".psm.active"):
		t.add(p+".psm.active", "required: the active timer T3324, how long an idle device stays reachable before PSM (0s: at once)")
	case a < 0 || a > maxT3324:
		t.add(p+".psm.active", "must be 0s to %s (T3324), got %s", maxT3324, a)
	}
	switch {
	case tau <= 0 || tau > maxT3412:
		t.add(p+".psm.tau", "must be > 0s and at most %s (T3412), got %s", maxT3412, tau)
	case tau <= a:
		t.add(p+".psm.tau", "must be longer than psm.active %s, or the device never sleeps, got %s", a, tau)
	}
	switch {
	case g.Connect.Mode == ModePerReport:
		t.add(p+".psm", "is a connected device's sleep; a per-report device already sleeps between reports without a connection")
	case g.Connect.KeepAlive > 0 && g.Connect.KeepAlive <= s.Inactivity+max(a, 0):
		t.add(gp+".connect.keepalive", "pings every %s would keep the device out of PSM, which it enters %s after an uplink: use a longer keepalive or 0s",
			g.Connect.KeepAlive, s.Inactivity+max(a, 0))
	}
}

func overrideLink(t *tree, path string, base netem.Profile, over string) (netem.Profile, bool) {
	prof, err := base.Override(over)
	if err == nil {
		err = prof.Validate()
	}
	if err != nil {
		t.add(path, "%v", err)
		return netem.Profile{}, false
	}
	return prof, true
}

// defaultInactivity is how long a device stays connected after its last
// packet when its radio profile gives no inactivity timer.
const defaultInactivity = 10 * time.Second

// wakeOf is the radio's wake-up cost from idle, nil where it has none.
// The group's sleep.inactivity, when given, sets when a device is idle.
func wakeOf(prof radio.Profile, sl *Sleep) *sim.Wake {
	w := prof.Sleep.Wake
	if w.Max <= 0 {
		return nil
	}
	idle := prof.Sleep.Inactivity.Min
	switch {
	case sl != nil:
		idle = sl.Inactivity
	case idle <= 0:
		idle = defaultInactivity
	}
	return &sim.Wake{Min: w.Min, Max: w.Max, Inactivity: idle}
}

// euDefaultChannels is the number of join channels every EU868 LoRaWAN
// device has (868.1, 868.3, 868.5 MHz); frames spread over them at random.
const euDefaultChannels = 3

// loraSF is a LoRaWAN profile's spreading factor: frames of different
// spreading factors do not collide.
func loraSF(name string) (int, bool) {
	if !strings.HasPrefix(name, "lorawan") {
		return 0, false
	}
	sf := 7
	if _, n, ok := strings.Cut(name, "-sf"); ok {
		fmt.Sscan(n, &sf)
	}
	return sf, true
}
