package radio

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

func TestNames(t *testing.T) {
	want := []string{"nbiot", "ltem", "gprs", "3g", "lte", "5g", "lorawan", "sigfox", "wifi",
		"ble-gateway", "geo", "leo", "iridium"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	Names()[0] = "changed"
	if got := Names()[0]; got != "nbiot" {
		t.Errorf("Names()[0] after a caller changed its copy = %q, want nbiot", got)
	}
}

func TestLookupEveryProfile(t *testing.T) {
	names := append(Names(), "lorawan-sf7", "lorawan-sf8", "lorawan-sf9", "lorawan-sf10", "lorawan-sf11", "lorawan-sf12")
	for _, name := range names {
		p, err := Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q) error = %v, want nil", name, err)
			continue
		}
		if p.Name != name {
			t.Errorf("Lookup(%q).Name = %q, want %q", name, p.Name, name)
		}
		if p.Title == "" || len(p.Sources) == 0 {
			t.Errorf("Lookup(%q): Title %q, Sources %v, want both set", name, p.Title, p.Sources)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("Lookup(%q).Validate() = %v, want nil", name, err)
		}
		// A fitted distribution must not pile its low tail at zero delay:
		// radio links have a floor.
		for dir, lp := range map[string]netem.Profile{"up": p.Link.Up, "down": p.Link.Down} {
			if q := delayQuantile(lp, 0.01); q <= 0 {
				t.Errorf("Lookup(%q) %s p1 delay = %v, want > 0", name, dir, q)
			}
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	const known = "known: nbiot, ltem, gprs, 3g, lte, 5g, lorawan, lorawan-sf7..lorawan-sf12, sigfox, " +
		"wifi, ble-gateway, geo, leo, iridium"
	tests := []string{"nbiotx", "", "NBIOT", "lorawan-sf6", "lorawan-sf13", "lorawan-sf07", "lorawan-sf", "lorawan-sf+9"}
	for _, name := range tests {
		_, err := Lookup(name)
		if !errors.Is(err, ErrUnknown) {
			t.Errorf("Lookup(%q) error = %v, want ErrUnknown", name, err)
			continue
		}
		want := `unknown radio "` + name + `"; ` + known
		if err.Error() != want {
			t.Errorf("Lookup(%q) error = %q, want %q", name, err, want)
		}
	}
}

func TestLookupReturnsFreshCopy(t *testing.T) {
	p, err := Lookup("nbiot")
	if err != nil {
		t.Fatalf("Lookup(nbiot) error = %v", err)
	}
	p.Sources[0] = "changed"
	p.Link.Up.Rate = 1
	q, _ := Lookup("nbiot")
	if q.Sources[0] == "changed" || q.Link.Up.Rate == 1 {
		t.Errorf("Lookup(nbiot) after a caller changed its copy = %v / %v, want the catalogue's values",
			q.Sources[0], q.Link.Up.Rate)
	}
}

// number is one key figure of a profile checked against RADIO.md.
type number struct {
	radio, what string
	got         func(Profile) float64
	want, tol   float64
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func upP50(p Profile) float64    { return ms64(delayQuantile(p.Link.Up, 0.5)) }
func upP95(p Profile) float64    { return ms64(delayQuantile(p.Link.Up, 0.95)) }
func upP01(p Profile) float64    { return ms64(delayQuantile(p.Link.Up, 0.01)) }
func upRate(p Profile) float64   { return float64(p.Link.Up.Rate) }
func downRate(p Profile) float64 { return float64(p.Link.Down.Rate) }
func upLoss(p Profile) float64   { return float64(p.Link.Up.Loss.Rate()) }
func mtu(p Profile) float64      { return float64(p.MTU) }
func maxUp(p Profile) float64    { return float64(p.MaxPayload) }
func maxDown(p Profile) float64  { return float64(p.MaxDownPayload) }
func duty(p Profile) float64     { return p.DutyCycle }
func air(n int) func(Profile) float64 {
	return func(p Profile) float64 { return ms64(p.Airtime(n)) }
}

func TestProfileNumbers(t *testing.T) {
	tests := []number{
		{"nbiot", "p50 ms", upP50, 400, 1},
		{"nbiot", "p95 ms", upP95, 2000, 5},
		{"nbiot", "p1 ms", upP01, 114, 5},
		{"nbiot", "UL rate", upRate, 20_000, 0},
		{"nbiot", "DL rate", downRate, 26_000, 0},
		{"nbiot", "UL cell", func(p Profile) float64 { return float64(p.Link.Up.CellSize) }, 125, 0},
		{"nbiot", "loss %", upLoss, 0.5, 1e-9},
		{"nbiot", "eDRX max s", func(p Profile) float64 { return p.Sleep.EDRX.Max.Seconds() }, 10485.76, 1e-9},
		{"nbiot", "PTW max s", func(p Profile) float64 { return p.Sleep.PTW.Max.Seconds() }, 40.96, 1e-9},
		{"ltem", "MTU", mtu, 1430, 0},
		{"ltem", "p50 ms", upP50, 50, 0.5},
		{"ltem", "eDRX min s", func(p Profile) float64 { return p.Sleep.EDRX.Min.Seconds() }, 5.12, 1e-9},
		{"ltem", "T3412 min", func(p Profile) float64 { return p.Sleep.T3412.Minutes() }, 54, 0},
		{"gprs", "p50 ms", upP50, 300, 1},
		{"gprs", "loss %", upLoss, 1, 1e-9},
		{"3g", "DL rate", downRate, 1_600_000, 0},
		{"lte", "p50 ms", upP50, 30, 0.5},
		{"5g", "p50 ms", upP50, 10, 0.2},
		{"lorawan", "max payload", maxUp, 222, 0},
		{"lorawan", "airtime 20 B ms", air(20), 71.9, 0.1},
		{"lorawan-sf8", "max payload", maxUp, 222, 0},
		{"lorawan-sf9", "max payload", maxUp, 115, 0},
		{"lorawan-sf10", "max payload", maxUp, 51, 0},
		{"lorawan-sf12", "max payload", maxUp, 51, 0},
		{"lorawan-sf12", "duty cycle", duty, 0.01, 0},
		{"lorawan-sf12", "airtime 20 B ms", air(20), 1810.4, 0.1},
		{"lorawan-sf12", "RX2 s", func(p Profile) float64 { return p.Sleep.RXWindow.Max.Seconds() }, 2, 0},
		{"sigfox", "max payload", maxUp, 12, 0},
		{"sigfox", "max downlink payload", maxDown, 8, 0},
		{"sigfox", "messages per day", func(p Profile) float64 { return float64(p.MessagesPerDay) }, 140, 0},
		{"sigfox", "downlinks per day", func(p Profile) float64 { return float64(p.DownlinksPerDay) }, 4, 0},
		{"sigfox", "airtime ms", air(12), 6000, 0},
		{"sigfox", "duty cycle", duty, 0.01, 0},
		{"wifi", "DL DTIM wait ms", func(p Profile) float64 { return ms64(p.Link.Down.Slot.Max) }, 102.4, 0},
		{"ble-gateway", "ATT MTU", mtu, 247, 0},
		{"geo", "p1 ms", upP01, 250.8, 0.1},
		{"geo", "floor ms", func(p Profile) float64 { return ms64(p.Link.Up.Delay - p.Link.Up.Jitter) }, 250, 0},
		{"leo", "p50 ms", upP50, 25, 0.5},
		{"leo", "p95 ms", upP95, 45, 0.5},
		{"iridium", "max payload", maxUp, 340, 0},
		{"iridium", "max downlink payload", maxDown, 270, 0},
		{"iridium", "session 70 B ms", air(70), 5000, 0},
		{"iridium", "session 340 B ms", air(340), 20000, 0},
		{"iridium", "min interval s", func(p Profile) float64 { return p.MinInterval.Seconds() }, 40, 0},
	}
	for _, tt := range tests {
		p, err := Lookup(tt.radio)
		if err != nil {
			t.Fatalf("Lookup(%q) error = %v", tt.radio, err)
		}
		if got := tt.got(p); got < tt.want-tt.tol || got > tt.want+tt.tol {
			t.Errorf("Lookup(%q) %s = %v, want %v ± %v", tt.radio, tt.what, got, tt.want, tt.tol)
		}
	}
}

func TestGEOAboveFloor(t *testing.T) {
	// Propagation to GEO and back down takes at least 240 ms; no draw of
	// the uniform distribution may go below it.
	p, _ := Lookup("geo")
	for dir, lp := range map[string]netem.Profile{"up": p.Link.Up, "down": p.Link.Down} {
		if lo := lp.Delay - lp.Jitter; lo < 240*time.Millisecond {
			t.Errorf("geo %s lowest delay = %v, want >= 240ms", dir, lo)
		}
	}
}

func TestSigfoxDutyCycleMatchesDailyCap(t *testing.T) {
	// 6 messages an hour of 3 × 2 s is 36 s/h, 1 %: the duty cycle alone
	// allows 144 a day, just above the 140 the network sells.
	p, _ := Lookup("sigfox")
	period := MinPeriod(p.Airtime(p.MaxPayload), p.DutyCycle)
	if perDay := int(24 * time.Hour / period); perDay < p.MessagesPerDay || perDay > 150 {
		t.Errorf("sigfox messages a day under its duty cycle = %d (period %v), want 140..150", perDay, period)
	}
}

func TestValidateProblems(t *testing.T) {
	base := func() Profile { p, _ := Lookup("sigfox"); return p }
	tests := []struct {
		name   string
		change func(*Profile)
		fields []string
	}{
		{"duty cycle 1", func(p *Profile) { p.DutyCycle = 1 }, []string{"duty cycle"}},
		{"duty cycle without airtime", func(p *Profile) { p.Airtime = nil }, []string{"duty cycle"}},
		{"negative caps", func(p *Profile) { p.MTU, p.MaxPayload, p.MessagesPerDay = -1, -1, -1 },
			[]string{"mtu", "max payload", "messages per day"}},
		{"negative interval and rate", func(p *Profile) { p.MinInterval, p.PHYRate = -time.Second, -1 },
			[]string{"min interval", "phy rate"}},
		{"link", func(p *Profile) { p.Link.Up.Delay, p.Link.Down.Loss.P = -1, 140 }, []string{"delay", "loss"}},
	}
	for _, tt := range tests {
		p := base()
		tt.change(&p)
		err := p.Validate()
		if !errors.Is(err, netem.ErrInvalid) {
			t.Errorf("Validate(%s) = %v, want an error wrapping netem.ErrInvalid", tt.name, err)
			continue
		}
		var got []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *netem.FieldError
			if errors.As(e, &fe) {
				got = append(got, fe.Field)
			}
		}
		if !slices.Equal(got, tt.fields) {
			t.Errorf("Validate(%s) fields = %v, want %v (error %v)", tt.name, got, tt.fields, err)
		}
	}
}

func TestRangeString(t *testing.T) {
	tests := []struct {
		r    Range
		want string
	}{
		{Range{time.Second, 3 * time.Second}, "1s-3s"},
		{Range{10 * time.Second, 10 * time.Second}, "10s"},
		{Range{20480 * time.Millisecond, 10485760 * time.Millisecond}, "20.48s-2h54m46s"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Range%v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
	if !(Range{}).IsZero() || (Range{Max: 1}).IsZero() {
		t.Errorf("Range.IsZero wrong for zero and non-zero ranges")
	}
}
