package lwm2m

import (
	"testing"
	"time"
)

// benchDevice is a Read on /3/0 of a simulated device, the answer most
// servers ask for first.
func benchDevice(b *testing.B) []Record {
	b.Helper()
	m := NewModel(Config{Seed: 1})
	m.Advance(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC))
	recs, err := m.Read(InstancePath(ObjectDevice, 0), nil)
	if err != nil {
		b.Fatal(err)
	}
	return recs
}

func benchmarkEncode(b *testing.B, f Format) {
	recs := benchDevice(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		out, err := Encode(buf[:0], f, InstancePath(ObjectDevice, 0), recs)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

func BenchmarkEncodeDeviceTLV(b *testing.B)       { benchmarkEncode(b, FormatTLV) }
func BenchmarkEncodeDeviceSenMLCBOR(b *testing.B) { benchmarkEncode(b, FormatSenMLCBOR) }
func BenchmarkEncodeDeviceSenMLJSON(b *testing.B) { benchmarkEncode(b, FormatSenMLJSON) }

// BenchmarkReadEncodeDeviceTLV is the whole answer: Read into a reused
// slice, then TLV.
func BenchmarkReadEncodeDeviceTLV(b *testing.B) {
	m := NewModel(Config{Seed: 1})
	recs := make([]Record, 0, 32)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		recs, _ = m.Read(InstancePath(ObjectDevice, 0), recs[:0])
		if _, err := Encode(buf[:0], FormatTLV, InstancePath(ObjectDevice, 0), recs); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkDecode(b *testing.B, f Format) {
	recs := benchDevice(b)
	m := NewModel(Config{})
	payload, err := Encode(nil, f, InstancePath(ObjectDevice, 0), recs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := Decode(f, InstancePath(ObjectDevice, 0), payload, m.Type); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDeviceTLV(b *testing.B)       { benchmarkDecode(b, FormatTLV) }
func BenchmarkDecodeDeviceSenMLCBOR(b *testing.B) { benchmarkDecode(b, FormatSenMLCBOR) }

// BenchmarkAdvanceStep is one simulation step of a device (one
// temperature sensor), the cost a long Advance multiplies.
func BenchmarkAdvanceStep(b *testing.B) {
	m := NewModel(Config{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		m.sim.step(&m.cfg)
	}
}
