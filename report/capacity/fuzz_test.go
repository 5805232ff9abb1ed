package capacity_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/m2msim/m2msim/report/capacity"
)

// figures reads stage figures from fuzz input, zero once it runs out.
type figures []byte

// float is a figure: tagged 0 it is any float64 (NaN, ±Inf, huge or
// tiny), tagged 1 +Inf, else a plausible value up to 6553.5.
func (f *figures) float() float64 {
	switch tag := f.byte(); tag % 8 {
	case 0:
		return math.Float64frombits(binary.LittleEndian.Uint64(f.take(8)))
	case 1:
		return math.Inf(1)
	}
	return float64(binary.LittleEndian.Uint16(f.take(2))) / 10
}

// int is a load or a count, negative at times.
func (f *figures) int() int { return int(int16(binary.LittleEndian.Uint16(f.take(2)))) }

func (f *figures) byte() byte { return f.take(1)[0] }

// take is the next n bytes, zero-padded.
func (f *figures) take(n int) []byte {
	b := make([]byte, n)
	*f = (*f)[copy(b, *f):]
	return b
}

// stage reads one stage.
func (f *figures) stage() capacity.Stage {
	return capacity.Stage{
		Devices: f.int(), OfferedPerSec: f.float(), ThroughputPerSec: f.float(), P50MS: f.float(), P99MS: f.float(),
		ConnectFailPct: f.float(), ErrorPct: f.float(), LossPct: f.float(), Passed: f.byte()%2 == 0,
		ScheduleLagP99MS: f.float(), BackendLagP99MS: f.float(), CPUPct: f.float(), Cores: int(int8(f.byte())),
		OpenFiles: int64(f.int()), OpenFilesLimit: int64(f.int()),
	}
}

// FuzzAnalyze feeds random stage figures to Analyze: it must not panic,
// and every index it returns must be in range.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xe8, 0x03, 2, 0x10, 0x27, 2, 0x10, 0x27, 2, 0x78, 0, 2, 0xa4, 1})
	f.Add([]byte("\x10\x27\x01\x01\x01\x01\x01\x01\x01\x00\x01\x01\x01\x08\x10\x27\x10\x27" +
		"\x20\x4e\x02\x10\x27\x02\x10\x27\x02\x78\x00\x02\xa4\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := figures(data)
		var stages []capacity.Stage
		for len(in) > 0 && len(stages) < 16 {
			stages = append(stages, in.stage())
		}
		checkAnalysis(t, stages, capacity.Analyze(stages, "e2e"))
	})
}
