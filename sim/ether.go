package sim

import (
	"math"
	"sync"
	"time"
)

// The shared medium of radios with Channels set (LoRa): one gateway
// hearing every device's frames. Each frame's fate is decided when it
// leaves the air, once every frame that overlaps it has started.
//
// Two models. Pure ALOHA: two frames that overlap on a channel with the
// same spreading factor are both lost; other spreading factors are
// orthogonal. Capture (the default for LoRaWAN): a frame survives an
// overlap when it is received strongly enough over the interference, per
// spreading factor pair (Goursaud and Gorce's isolation thresholds: 6 dB
// over the same SF, 16 to 36 dB under another), and the gateway has a
// demodulator for it: an SX1301 locks on at most 8 frames at once.

// isolation is the SIR in dB a frame of SF row needs over interference of
// SF column to be decoded (Goursaud and Gorce 2015, as ns-3's lorawan
// module tabulates it [V]).
var isolation = [6][6]float64{
	//  SF7  SF8  SF9 SF10 SF11 SF12
	{6, -16, -18, -19, -19, -20}, // SF7
	{-24, 6, -20, -22, -22, -22}, // SF8
	{-27, -27, 6, -23, -25, -25}, // SF9
	{-30, -30, -30, 6, -26, -28}, // SF10
	{-33, -33, -33, -33, 6, -29}, // SF11
	{-36, -36, -36, -36, -36, 6}, // SF12
}

// gatewayPaths is how many frames an SX1301 gateway demodulates at once,
// over all its channels and spreading factors (Semtech SX1301 [K]).
const gatewayPaths = 8

// pathLossExponent spreads received power over the devices, placed
// uniformly on a disc around the gateway from a tenth of its radius out:
// power falls as distance^-2.75 (urban log-distance path loss [K]), so
// the fleet spans 27.5 dB.
const pathLossExponent = 2.75

// rxPower is the device's received power at the gateway in mW relative
// to one at the edge of the cell: a pure function of seed and device.
func (e *Engine) rxPower(dev int) float64 {
	u := 0.01 + 0.99*float64(uniform(mix(e.plan.Seed, dev, purposePower, 0), 1<<53))/(1<<53)
	// d/R = sqrt(u); power ~ (d/R)^-n.
	return math.Pow(u, -pathLossExponent/2)
}

type ether struct {
	mu     sync.Mutex
	onAir  []*frame // frames not yet forgotten, in start order
	maxAir time.Duration
}

// transmit puts fr on the medium as it starts.
func (a *ether) transmit(fr *frame) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maxAir = max(a.maxAir, fr.end-fr.start)
	// Forget frames that can overlap no undecided one: an undecided frame
	// started at most maxAir before now (and is decided soon after its
	// end), so twice that is a safe horizon.
	keep := a.onAir[:0]
	busy := 0
	for _, o := range a.onAir {
		if o.end >= fr.start-2*a.maxAir {
			keep = append(keep, o)
		}
		if o.end > fr.start && !o.noPath {
			busy++
		}
	}
	clear(a.onAir[len(keep):])
	a.onAir = append(keep, fr)
	fr.noPath = fr.capture && busy >= gatewayPaths
}

// lost decides whether the gateway failed to hear fr, which has left the
// air: every frame overlapping it has started by now.
func (a *ether) lost(fr *frame) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if fr.noPath {
		return true
	}
	if !fr.capture {
		for _, o := range a.onAir {
			if o != fr && o.channel == fr.channel && o.domain == fr.domain && overlap(o, fr) > 0 {
				return true
			}
		}
		return false
	}
	// Interference energy per spreading factor, averaged over fr's time
	// on air, as the gateway integrates it.
	var interf [len(isolation)]float64
	hit := false
	for _, o := range a.onAir {
		if ov := overlap(o, fr); o != fr && o.channel == fr.channel && ov > 0 {
			interf[sfIndex(o.domain)] += o.power * float64(ov) / float64(fr.end-fr.start)
			hit = true
		}
	}
	if !hit {
		return false
	}
	own := sfIndex(fr.domain)
	for sf, p := range interf {
		if p > 0 && 10*math.Log10(fr.power/p) < isolation[own][sf] {
			return true
		}
	}
	return false
}

// overlap is how long two frames are on air together.
func overlap(a, b *frame) time.Duration {
	return max(0, min(a.end, b.end)-max(a.start, b.start))
}

// sfIndex maps a LoRa spreading factor 7..12 to its isolation row.
func sfIndex(sf int) int { return min(max(sf, 7), 12) - 7 }
