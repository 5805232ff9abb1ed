package radio

import (
	"math"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// fitDelay returns netem's Delay and Jitter that give distribution d the
// median and 95th percentile asked for, rounded to 0.1 ms. RADIO.md quotes
// medians and p95s; using them as netem's mean and spread would shift the
// skewed tables (paretonormal's median lies 0.24 Jitter below Delay).
func fitDelay(d netem.Distribution, median, p95 time.Duration) (delay, jitter time.Duration) {
	q50, q95 := d.Quantile(0.5), d.Quantile(0.95)
	sigma := float64(p95-median) / (q95 - q50)
	mu := float64(median) - q50*sigma
	const step = 100 * time.Microsecond
	return time.Duration(mu).Round(step), time.Duration(sigma).Round(step)
}

// delayQuantile returns the delay of p at quantile q, as netem draws it:
// negative draws are sent at once, so the quantile is at least 0.
func delayQuantile(p netem.Profile, q float64) time.Duration {
	v := float64(p.Delay) + p.Distribution.Quantile(q)*float64(p.Jitter)
	return time.Duration(math.Max(0, v)).Round(100 * time.Microsecond)
}

// profile builds one direction: distribution d fitted to median and p95,
// Gilbert-Elliott loss (percent) with mean bursts of burst packets, rate.
func profile(d netem.Distribution, median, p95 time.Duration, loss, burst float64, rate netem.Bitrate) netem.Profile {
	delay, jitter := fitDelay(d, median, p95)
	return netem.Profile{Delay: delay, Jitter: jitter, Distribution: d, Loss: ge(loss, burst), Rate: rate}
}

// uniform builds one direction with tc's default uniform jitter over
// [lo, hi) and no loss.
func uniform(lo, hi time.Duration) netem.Profile {
	return netem.Profile{Delay: (lo + hi) / 2, Jitter: (hi - lo) / 2}
}

// ge returns the Gilbert-Elliott loss with long-run loss rate loss (in
// percent) and mean burst length burst packets: r = 1/B, p = L·r/(1−L),
// every packet lost in the bad state and none in the good one (RADIO.md
// 1.4 [V]). A zero loss gives the zero Loss.
func ge(loss, burst float64) netem.Loss {
	if loss <= 0 {
		return netem.Loss{}
	}
	l, r := loss/100, 1/burst
	return netem.Loss{
		Model: netem.LossGE,
		P:     netem.Percent(100 * l * r / (1 - l)),
		R:     netem.Percent(100 * r),
		H:     100,
	}
}
