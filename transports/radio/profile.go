package radio

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// Profile is one radio technology's defaults: the link a device sees in
// connected state plus the constraints netem cannot express. Lookup returns
// a fresh copy that callers may change (a scenario's overrides) and check
// with Validate.
type Profile struct {
	// Name is the key Lookup accepts ("nbiot"); Title the technology's
	// full name ("NB-IoT Cat-NB1/NB2 (CE0)").
	Name, Title string
	// Link is device to IP core in connected state: delay distribution,
	// Gilbert-Elliott loss, UL/DL rate with cell = transport block where
	// it applies, grant slots. Wake costs are in Sleep, not here.
	Link netem.Link
	// MTU is the IP MTU, or the ATT MTU for BLE; 0 where there is no IP.
	MTU int
	// MaxPayload caps one uplink message in bytes where the technology
	// does (Sigfox 12 B, LoRaWAN FRMPayload per data rate, Iridium MO
	// 340 B); MaxDownPayload caps one downlink. 0 = no cap but the MTU.
	MaxPayload, MaxDownPayload int
	// PHYRate is the radio bit rate of message-level technologies whose
	// serialisation Airtime models (Link rate is 0 there). Informational.
	PHYRate netem.Bitrate
	// Airtime returns how long an uplink of payload application bytes
	// keeps the radio busy; the duty cycle counts it. Nil where it is
	// negligible against the link delay. Check MaxPayload first: beyond
	// it the result means nothing (LoRa's is 0 past 255 PHY bytes).
	Airtime func(payload int) time.Duration
	// DownAirtime is the same for a downlink in the device's receive
	// window (LoRaWAN RX1: the uplink's data rate without CRC); nil where
	// Airtime is.
	DownAirtime func(payload int) time.Duration
	// DutyCycle is the regulatory fraction of time the device may
	// transmit in its sub-band (0.01 for EU868 868.0-868.6 MHz); after a
	// send the band is closed for TimeOff(airtime, DutyCycle). 0 = none.
	DutyCycle float64
	// MessagesPerDay and DownlinksPerDay cap messages per day (Sigfox 140
	// up, 4 down); 0 = unlimited.
	MessagesPerDay, DownlinksPerDay int
	// MinInterval is the shortest time between two uplinks the modem
	// allows (Iridium SBD ~40 s); 0 = none.
	MinInterval time.Duration
	// Sleep holds the technology's power-saving timers and wake costs.
	Sleep SleepDefaults
	// Sources are the RADIO.md source labels behind the numbers.
	Sources []string
}

// SleepDefaults are a technology's power-saving timers (RADIO.md sections
// 4 and 6). Zero fields mean the technology has no such mechanism.
type SleepDefaults struct {
	// PSM is whether 3GPP power saving mode applies; T3412 is the
	// periodic tracking-area-update timer a PSM device wakes on.
	PSM   bool
	T3412 time.Duration
	// EDRX is the range of eDRX cycles and PTW of paging time windows
	// the network may grant; downlink to an idle device waits up to one
	// cycle.
	EDRX, PTW Range
	// Inactivity is how long a connected device stays connected after
	// its last packet before it drops to idle.
	Inactivity Range
	// Wake is the extra latency of the first uplink from idle: RACH and
	// RRC setup (3GPP), TBF setup (GPRS), channel promotion (3G).
	Wake Range
	// DownlinkAfterUplink says downlink reaches the device only after
	// one of its uplinks (LoRaWAN class A, Sigfox, Iridium SBD), in the
	// RXWindow measured from the end of the uplink; a zero RXWindow means
	// within the uplink's own session.
	DownlinkAfterUplink bool
	RXWindow            Range
}

// Range is a span of durations from Min to Max inclusive.
type Range struct {
	Min, Max time.Duration
}

// IsZero reports whether r is unset.
func (r Range) IsZero() bool { return r == Range{} }

// String formats r as "1s-3s", or one duration when Min equals Max.
func (r Range) String() string {
	if r.Min == r.Max {
		return formatDuration(r.Min)
	}
	return formatDuration(r.Min) + "-" + formatDuration(r.Max)
}

// ErrUnknown is wrapped by Lookup's error for a name it does not know.
var ErrUnknown = errors.New("unknown radio")

// names lists the base profiles in the order Names returns them.
var names = []string{"nbiot", "ltem", "gprs", "3g", "lte", "5g", "lorawan", "sigfox", "wifi",
	"ble-gateway", "geo", "leo", "iridium"}

// builders builds each base profile.
var builders = map[string]func() Profile{
	"nbiot": nbiot, "ltem": ltem, "gprs": gprs, "3g": umts, "lte": lte, "5g": nr,
	"lorawan": lorawanDefault, "sigfox": sigfox, "wifi": wifi, "ble-gateway": bleGateway,
	"geo": geo, "leo": leo, "iridium": iridium,
}

// Names returns the base profile names in a stable order. Lookup also
// accepts "lorawan-sf7" to "lorawan-sf12".
func Names() []string {
	return append([]string(nil), names...)
}

// Lookup returns the profile called name: one of Names, or
// "lorawan-sfN" for a LoRaWAN EU868 spreading factor N of 7..12. An unknown
// name gives an error wrapping ErrUnknown that lists the known ones.
func Lookup(name string) (Profile, error) {
	if b, ok := builders[name]; ok {
		return b(), nil
	}
	if sf, ok := strings.CutPrefix(name, "lorawan-sf"); ok {
		if n, err := strconv.Atoi(sf); err == nil && n >= 7 && n <= 12 && strconv.Itoa(n) == sf {
			return lorawan(n), nil
		}
	}
	return Profile{}, fmt.Errorf("%w %q; known: %s", ErrUnknown, name, knownList())
}

func knownList() string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		if n == "lorawan" {
			b.WriteString(", lorawan-sf7..lorawan-sf12")
		}
	}
	return b.String()
}

// Validate returns every problem with p, joined: the link's directions as
// netem validates them, and the radio fields' ranges, each a
// *netem.FieldError (so errors.Is(err, netem.ErrInvalid) holds).
func (p Profile) Validate() error {
	var errs []error
	if err := p.Link.Up.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("radio %s: uplink: %w", p.Name, err))
	}
	if err := p.Link.Down.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("radio %s: downlink: %w", p.Name, err))
	}
	bad := func(field, format string, args ...any) {
		fe := &netem.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
		errs = append(errs, fmt.Errorf("radio %s: %w", p.Name, fe))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"mtu", p.MTU}, {"max payload", p.MaxPayload}, {"max downlink payload", p.MaxDownPayload},
		{"messages per day", p.MessagesPerDay}, {"downlinks per day", p.DownlinksPerDay}} {
		if f.v < 0 {
			bad(f.name, "must not be negative, got %d", f.v)
		}
	}
	if !(p.DutyCycle >= 0 && p.DutyCycle < 1) {
		bad("duty cycle", "must be within [0, 1), got %v", p.DutyCycle)
	}
	if p.DutyCycle > 0 && p.Airtime == nil {
		bad("duty cycle", "needs an airtime to count against")
	}
	if p.MinInterval < 0 {
		bad("min interval", "must not be negative, got %v", p.MinInterval)
	}
	if p.PHYRate < 0 {
		bad("phy rate", "must not be negative, got %v", p.PHYRate)
	}
	return errors.Join(errs...)
}
