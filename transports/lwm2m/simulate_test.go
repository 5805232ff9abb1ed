package lwm2m

import (
	"math"
	"testing"
	"time"
)

var day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// readAll is every readable value of the device.
func readAll(t *testing.T, m *Model) []Record {
	t.Helper()
	var recs []Record
	for _, o := range []uint16{1, 3, 4, 5, 6, 3303} {
		var err error
		if recs, err = m.Read(ObjectPath(o), recs); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func TestDeterministic(t *testing.T) {
	a, b := NewModel(Config{Seed: 42, Index: 3}), NewModel(Config{Seed: 42, Index: 3})
	other := NewModel(Config{Seed: 42, Index: 4})
	// b gets there one step at a time, a in one jump: same values.
	for at := day0; !at.After(day0.Add(time.Hour)); at = at.Add(10 * time.Second) {
		b.Advance(at)
	}
	a.Advance(day0.Add(time.Hour))
	other.Advance(day0.Add(time.Hour))
	if !sameRecords(readAll(t, a), readAll(t, b)) {
		t.Error("same seed and index, different values")
	}
	if sameRecords(readAll(t, a), readAll(t, other)) {
		t.Error("another device index, same values")
	}
}

func TestValuesMove(t *testing.T) {
	m := NewModel(Config{Seed: 1, BatteryDrain: 2})
	m.Advance(day0)
	m.Changes(nil)
	get := func(p Path) float64 {
		v, _ := m.Get(p)
		f, _ := v.Number()
		return f
	}
	battery0, temp0 := get(ResourcePath(3, 0, 9)), get(ResourcePath(3303, 0, 5700))
	lat0 := get(ResourcePath(6, 0, 0))
	changedTemp := 0
	for i := 1; i <= 360; i++ { // one hour
		m.Advance(day0.Add(time.Duration(i) * 10 * time.Second))
		for _, p := range m.Changes(nil) {
			if p == ResourcePath(3303, 0, 5700) {
				changedTemp++
			}
		}
		if temp := get(ResourcePath(3303, 0, 5700)); temp < 10 || temp > 30 {
			t.Fatalf("temperature %v out of plausible range", temp)
		}
		if rssi := get(ResourcePath(4, 0, 2)); rssi < -130 || rssi > -60 {
			t.Fatalf("rssi %v out of range", rssi)
		}
	}
	if b := get(ResourcePath(3, 0, 9)); b != battery0-2 && b != battery0-1 && b != battery0-3 {
		t.Errorf("battery %v -> %v in an hour at 2%%/h", battery0, b)
	}
	if changedTemp < 300 {
		t.Errorf("temperature changed %d times in 360 steps", changedTemp)
	}
	if get(ResourcePath(3303, 0, 5700)) == temp0 && get(ResourcePath(6, 0, 0)) == lat0 {
		t.Error("nothing moved")
	}
	if d := math.Abs(get(ResourcePath(6, 0, 0)) - lat0); d > 0.01 {
		t.Errorf("latitude drifted %v degrees in an hour", d)
	}
}

// TestTemperatureWalk checks the walk against its definition: a
// mean-reverting walk with pull 0.02 and noise 0.05 per step has a
// stationary standard deviation of 0.05/sqrt(1-0.98^2) ~ 0.25 °C around
// the device's mean, and steps of standard deviation ~ 0.05.
func TestTemperatureWalk(t *testing.T) {
	m := NewModel(Config{Seed: 9})
	m.Advance(day0)
	mean := m.sim.temps[0].mean
	var sum, sumSq, stepSq float64
	const n = 20000
	prev := m.sim.temps[0].value
	for i := 1; i <= n; i++ {
		m.sim.step(&m.cfg)
		v := m.sim.temps[0].value
		sum += v - mean
		sumSq += (v - mean) * (v - mean)
		stepSq += (v - prev) * (v - prev)
		prev = v
	}
	sd := math.Sqrt(sumSq/n - (sum/n)*(sum/n))
	if want := 0.05 / math.Sqrt(1-0.98*0.98); math.Abs(sd-want) > 0.25*want {
		t.Errorf("stationary sd %v, want %v ± 25%%", sd, want)
	}
	if step := math.Sqrt(stepSq / n); math.Abs(step-0.05) > 0.01 {
		t.Errorf("step sd %v, want 0.05 ± 0.01", step)
	}
}

func TestAdvanceBackwards(t *testing.T) {
	m := NewModel(Config{})
	m.Advance(day0.Add(time.Hour))
	before := readAll(t, m)
	m.Advance(day0)
	if !sameRecords(readAll(t, m), before) {
		t.Error("going back in time changed values")
	}
}

// A server may delete a sensor's instance; the simulation goes on
// without it.
func TestAdvanceAfterSensorDeleted(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewModel(Config{Start: start, Sensors: 2})
	if err := m.Delete(InstancePath(ObjectTemperature, 1)); err != nil {
		t.Fatal(err)
	}
	m.Advance(start.Add(time.Minute))
	if _, ok := m.Get(ResourcePath(ObjectTemperature, 1, 5700)); ok {
		t.Error("the deleted sensor's value came back")
	}
	if _, ok := m.Get(ResourcePath(ObjectTemperature, 0, 5700)); !ok {
		t.Error("the other sensor's value is gone")
	}
}
