package lwm2m

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Config describes one simulated device. The zero Config is a working
// device: withDefaults fills in the rest.
type Config struct {
	// Seed and Index seed the device's values: one seed per scenario,
	// one index per device (rand.NewPCG(Seed, Index)). The same pair
	// gives the same values at the same times.
	Seed, Index uint64
	// Start is the device's time at step 0 (default
	// 2026-01-01T00:00:00Z); values move one Step at a time (default 10s)
	// from there, whatever the times Advance is called at.
	Start time.Time
	Step  time.Duration

	ServerURI     string        // Security /0/0/0 (default "coap://localhost:5683")
	ShortServerID uint16        // default 1
	Lifetime      time.Duration // Server /1/0/1 (default 24h)
	Binding       string        // Server /1/0/7 and Device /3/0/16 (default "U")

	Manufacturer    string // default "m2msim"
	ModelNumber     string // default "nb-iot-meter"
	FirmwareVersion string // default "1.0.0"
	Sensors         int    // IPSO Temperature instances (default 1)
	// BatteryDrain is how many percent of battery a device loses per
	// hour (default 0.5).
	BatteryDrain float64

	// OnExecute hears of every Execute the Model accepted, after the
	// device's own action: Device/Reboot (/3/0/4), Firmware
	// Update/Update (/5/0/2), Server/Registration Update Trigger
	// (/1/0/8) and the others. It runs inside Execute and must not call
	// the Model back.
	OnExecute func(p Path, args []byte)
}

func (c Config) withDefaults() Config {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	c.Step = orDefault(c.Step, 10*time.Second)
	c.ServerURI = orDefault(c.ServerURI, "coap://localhost:5683")
	c.ShortServerID = orDefault(c.ShortServerID, 1)
	c.Lifetime = orDefault(c.Lifetime, 24*time.Hour)
	c.Binding = orDefault(c.Binding, "U")
	c.Manufacturer = orDefault(c.Manufacturer, "m2msim")
	c.ModelNumber = orDefault(c.ModelNumber, "nb-iot-meter")
	c.FirmwareVersion = orDefault(c.FirmwareVersion, "1.0.0")
	c.Sensors = orDefault(c.Sensors, 1)
	c.BatteryDrain = orDefault(c.BatteryDrain, 0.5)
	return c
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func durationSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// simulator moves the device's physical values: one PCG stream per
// device, drawn in a fixed order, one step at a time.
type simulator struct {
	rng         *rand.Rand
	steps       int64         // steps taken since Start
	now         time.Time     // the time of the last Advance
	clockOffset time.Duration // Current Time as a server wrote it, minus now

	battery    float64 // percent
	temps      []thermometer
	rssi, rsrq float64 // dBm, dB
	rssiBase   float64
	lat, lon   float64 // degrees
	alt, speed float64 // m, m/s
}

// thermometer is a mean-reverting random walk around the device's own
// mean, with the extremes it measured.
type thermometer struct {
	mean, value, min, max float64
}

// The walks' parameters per step: how hard a value is pulled back to its
// mean, and how far it moves at random.
const (
	tempPull, tempNoise = 0.02, 0.05  // °C
	rssiPull, rssiNoise = 0.05, 0.8   // dB
	locNoise            = 0.00001     // degrees, about 1 m
	earthRadius         = 6_371_000.0 // m
)

func newSimulator(c Config) simulator {
	s := simulator{rng: rand.New(rand.NewPCG(c.Seed, c.Index)), now: c.Start}
	s.battery = 60 + 40*s.rng.Float64()
	for range c.Sensors {
		mean := 18 + 6*s.rng.Float64()
		r := round(mean, 2)
		s.temps = append(s.temps, thermometer{mean, mean, r, r})
	}
	s.rssiBase = -110 + 25*s.rng.Float64()
	s.rssi, s.rsrq = s.rssiBase, -8-6*s.rng.Float64()
	s.lat, s.lon = -55+110*s.rng.Float64(), -180+360*s.rng.Float64()
	s.alt = 500 * s.rng.Float64()
	return s
}

// step moves every value one step forward.
func (s *simulator) step(c *Config) {
	s.battery = max(0, s.battery-c.BatteryDrain*c.Step.Hours())
	for i := range s.temps {
		t := &s.temps[i]
		t.value += tempPull*(t.mean-t.value) + tempNoise*s.rng.NormFloat64()
		v := round(t.value, 2)
		t.min, t.max = min(t.min, v), max(t.max, v)
	}
	s.rssi += rssiPull*(s.rssiBase-s.rssi) + rssiNoise*s.rng.NormFloat64()
	s.rssi = min(-60, max(-130, s.rssi))
	s.rsrq = min(-3, max(-20, s.rsrq+0.3*s.rng.NormFloat64()))
	dlat, dlon := locNoise*s.rng.NormFloat64(), locNoise*s.rng.NormFloat64()
	s.lat = min(85, max(-85, s.lat+dlat))
	s.lon = math.Mod(s.lon+dlon+540, 360) - 180
	dist := earthRadius * math.Pi / 180 * math.Hypot(dlat, dlon*math.Cos(s.lat*math.Pi/180))
	s.speed = dist / c.Step.Seconds()
}

// Advance moves the device's values to time now: as many steps as fit
// between Start and now (one step costs well under a microsecond; a day
// is 8,640 default steps), then Current Time and the location Timestamp
// to now. Times before the last one move nothing. Changes lists what
// moved.
func (m *Model) Advance(now time.Time) {
	if now.Before(m.sim.now) {
		return
	}
	target := int64(now.Sub(m.cfg.Start) / m.cfg.Step)
	for ; m.sim.steps < target; m.sim.steps++ {
		m.sim.step(&m.cfg)
	}
	m.sim.now = now
	m.publish()
}

// round rounds f to the given decimals, as a sensor reports it.
func round(f float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(f*p) / p
}

// publish writes the simulated values into the tree.
func (m *Model) publish() {
	s := &m.sim
	level := int64(math.Ceil(s.battery))
	m.set(ResourcePath(ObjectDevice, 0, 9), Int(level))
	m.set(ResourceInstancePath(ObjectDevice, 0, 7, 0), Int(3000+int64(s.battery*12)))
	m.set(ResourcePath(ObjectDevice, 0, 20), Int(batteryStatus(level)))
	m.set(ResourcePath(ObjectDevice, 0, 13), Time(s.now.Add(s.clockOffset)))
	sensors := m.object(ObjectTemperature)
	for i := range s.temps {
		if sensors.instance(uint16(i)) == nil {
			continue // a server deleted this sensor's instance
		}
		t := &s.temps[i]
		m.set(ResourcePath(ObjectTemperature, uint16(i), 5700), Float(round(t.value, 2)))
		m.set(ResourcePath(ObjectTemperature, uint16(i), 5601), Float(t.min))
		m.set(ResourcePath(ObjectTemperature, uint16(i), 5602), Float(t.max))
	}
	m.set(ResourcePath(ObjectConnectivity, 0, 2), Int(int64(math.Round(s.rssi))))
	m.set(ResourcePath(ObjectConnectivity, 0, 3), Int(int64(math.Round(s.rsrq))))
	m.set(ResourcePath(ObjectLocation, 0, 0), Float(round(s.lat, 6)))
	m.set(ResourcePath(ObjectLocation, 0, 1), Float(round(s.lon, 6)))
	m.set(ResourcePath(ObjectLocation, 0, 2), Float(round(s.alt, 1)))
	m.set(ResourcePath(ObjectLocation, 0, 5), Time(s.now))
	m.set(ResourcePath(ObjectLocation, 0, 6), Float(round(s.speed, 2)))
}

// batteryStatus is /3/0/20: 0 (normal), or 4 (low battery) at 10% and
// below.
func batteryStatus(level int64) int64 {
	if level <= 10 {
		return 4
	}
	return 0
}

// set stores a value the device produced; the paths are the device's
// own, so a failure is a programming error.
func (m *Model) set(p Path, v Value) {
	if err := m.Set(p, v); err != nil {
		panic(fmt.Sprintf("lwm2m: simulated value %v: %v", p, err))
	}
}

// resetExtremes is Execute on Reset Min and Max Measured Values.
func (s *simulator) resetExtremes(m *Model, inst uint16) {
	if int(inst) >= len(s.temps) {
		return
	}
	t := &s.temps[inst]
	t.min, t.max = round(t.value, 2), round(t.value, 2)
	m.set(ResourcePath(ObjectTemperature, inst, 5601), Float(t.min))
	m.set(ResourcePath(ObjectTemperature, inst, 5602), Float(t.max))
}

// afterWrite applies what a server's write means beyond the stored
// value: a new Current Time sets the device's clock offset.
func (m *Model) afterWrite(recs []Record) {
	for _, r := range recs {
		if r.Path == ResourcePath(ObjectDevice, 0, 13) {
			m.sim.clockOffset = r.Value.Time().Sub(m.sim.now.Truncate(time.Second))
		}
	}
}

// populate creates the device's instances with their first values.
func (m *Model) populate() {
	c := &m.cfg
	m.sim = newSimulator(*c)
	m.instance(ObjectSecurity, 0, map[uint16]Value{0: String(c.ServerURI), 1: Bool(false),
		2: Int(3), 10: Int(int64(c.ShortServerID))})
	m.instance(ObjectServer, 0, map[uint16]Value{0: Int(int64(c.ShortServerID)),
		1: Int(int64(c.Lifetime / time.Second)), 6: Bool(true), 7: String(c.Binding), 22: String("U")})
	m.instance(ObjectDevice, 0, map[uint16]Value{0: String(c.Manufacturer), 1: String(c.ModelNumber),
		2: String(fmt.Sprintf("M2M%010d", c.Index)), 3: String(c.FirmwareVersion),
		10: Int(96), 14: String("+00:00"), 15: String("Etc/UTC"), 16: String(c.Binding),
		17: String("meter"), 18: String("1.0"), 19: String(c.FirmwareVersion), 21: Int(256)})
	m.multi(ResourcePath(ObjectDevice, 0, 6), Int(1))  // internal battery
	m.multi(ResourcePath(ObjectDevice, 0, 8), Int(12)) // mA
	m.multi(ResourcePath(ObjectDevice, 0, 11), Int(0)) // no error
	m.populateRadio()
	m.instance(ObjectFirmware, 0, map[uint16]Value{9: Int(2)}) // pull and push
	for i, proto := range []int64{0, 1, 2, 3} {
		m.set(ResourceInstancePath(ObjectFirmware, 0, 8, uint16(i)), Int(proto))
	}
	m.instance(ObjectLocation, 0, map[uint16]Value{3: Float(10)})
	for i := range c.Sensors {
		m.instance(ObjectTemperature, uint16(i), map[uint16]Value{5603: Float(-40), 5604: Float(85),
			5701: String("Cel"), 5750: String("temperature")})
	}
	m.publish()
}

// populateRadio fills Connectivity Monitoring for a cellular device:
// bearer 6 (LTE-FDD; Connectivity Monitoring 1.0 has no NB-IoT entry).
func (m *Model) populateRadio() {
	idx := m.cfg.Index
	cell := int64(m.sim.rng.Uint32() & (1<<28 - 1))
	m.instance(ObjectConnectivity, 0, map[uint16]Value{0: Int(6), 6: Int(1), 8: Int(cell),
		9: Int(1), 10: Int(1)})
	m.multi(ResourcePath(ObjectConnectivity, 0, 1), Int(6))
	m.multi(ResourcePath(ObjectConnectivity, 0, 4),
		String(fmt.Sprintf("10.%d.%d.%d", idx>>16&0xff, idx>>8&0xff, idx&0xff)))
	m.multi(ResourcePath(ObjectConnectivity, 0, 7), String("iot"))
}

func (m *Model) instance(obj, id uint16, values map[uint16]Value) {
	m.object(obj).newInstance(id)
	for r, v := range values {
		m.set(ResourcePath(obj, id, r), v)
	}
}

// multi sets instance 0 of a multi-instance resource.
func (m *Model) multi(p Path, v Value) { m.set(p.Child(0), v) }
