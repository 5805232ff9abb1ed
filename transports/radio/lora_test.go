package radio

import (
	"testing"
	"time"
)

// airtimeTolerance is how close LoRaAirtime must come to the RADIO.md
// section 5 figures, which are printed to 0.1 ms.
const airtimeTolerance = 100 * time.Microsecond

func near(got, want, tol time.Duration) bool {
	d := got - want
	return d >= -tol && d <= tol
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestLoRaAirtimeTable(t *testing.T) {
	// RADIO.md section 5 [S]: 125 kHz, CR 4/5, CRC on, explicit header,
	// 8-symbol preamble, by PHYPayload length.
	tests := []struct {
		sf   int
		pl20 float64
		pl33 float64
		pl64 float64
	}{
		{7, 56.6, 71.9, 118.0},
		{8, 102.9, 133.6, 215.6},
		{9, 185.3, 246.8, 390.1},
		{10, 370.7, 452.6, 698.4},
		{11, 741.4, 987.1, 1560.6},
		{12, 1318.9, 1810.4, 2793.5},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			pl   int
			want float64
		}{{20, tt.pl20}, {33, tt.pl33}, {64, tt.pl64}} {
			got := LoRaAirtime(tt.sf, LoRaBandwidth, c.pl, LoRaCodingRate, true, true, LoRaPreamble)
			if !near(got, ms(c.want), airtimeTolerance) {
				t.Errorf("LoRaAirtime(SF%d, PL %d) = %v, want %.1fms", tt.sf, c.pl, got, c.want)
			}
		}
	}
}

func TestLoRaAirtimeExact(t *testing.T) {
	tests := []struct {
		name                string
		sf, bw, pl, cr, pre int
		crc, explicit       bool
		want                time.Duration
	}{
		// Worked examples of RADIO.md section 5: 12.544 + 44.032 ms.
		{"SF7 PL20", 7, 125_000, 20, 1, 8, true, true, 56_576 * time.Microsecond},
		// 401.408 + 917.504 ms (DE on).
		{"SF12 PL20", 12, 125_000, 20, 1, 8, true, true, 1_318_912 * time.Microsecond},
		// Downlink: no CRC. SF7 PL20: ceil(160/28)=6 → 38 symbols.
		{"SF7 PL20 no CRC", 7, 125_000, 20, 1, 8, false, true, (12_544 + 38*1_024) * time.Microsecond},
		// DR6: SF7 at 250 kHz halves the symbol time.
		{"SF7 250kHz PL20", 7, 250_000, 20, 1, 8, true, true, 28_288 * time.Microsecond},
		// Empty payload still costs the 8 header symbols... plus what the
		// header and CRC need: ceil(16/28)=1 block of 5.
		{"SF7 PL0", 7, 125_000, 0, 1, 8, true, true, (12_544 + 13*1_024) * time.Microsecond},
		// Implicit header, no CRC, tiny payload: the max(...,0) clamps.
		{"SF12 PL0 implicit", 12, 125_000, 0, 1, 8, false, false, (401_408 + 8*32_768) * time.Microsecond},
		// CR 4/8 at SF9 PL33: ceil(272/36)=8 blocks of 8 → 72 symbols.
		{"SF9 PL33 CR4/8", 9, 125_000, 33, 4, 8, true, true, (50_176 + 72*4_096) * time.Microsecond},
	}
	for _, tt := range tests {
		got := LoRaAirtime(tt.sf, tt.bw, tt.pl, tt.cr, tt.crc, tt.explicit, tt.pre)
		if got != tt.want {
			t.Errorf("LoRaAirtime(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoRaAirtimeInvalid(t *testing.T) {
	tests := []struct {
		name                string
		sf, bw, pl, cr, pre int
	}{
		{"SF5", 5, 125_000, 20, 1, 8},
		{"SF13", 13, 125_000, 20, 1, 8},
		{"zero bandwidth", 7, 0, 20, 1, 8},
		{"negative payload", 7, 125_000, -1, 1, 8},
		{"payload 256", 7, 125_000, 256, 1, 8},
		{"CR 0", 7, 125_000, 20, 0, 8},
		{"CR 5", 7, 125_000, 20, 5, 8},
		{"negative preamble", 7, 125_000, 20, 1, -1},
	}
	for _, tt := range tests {
		if got := LoRaAirtime(tt.sf, tt.bw, tt.pl, tt.cr, true, true, tt.pre); got != 0 {
			t.Errorf("LoRaAirtime(%s) = %v, want 0", tt.name, got)
		}
	}
}

func TestLoRaPHYPayload(t *testing.T) {
	tests := []struct{ frm, want int }{{0, 13}, {7, 20}, {20, 33}, {51, 64}, {222, 235}}
	for _, tt := range tests {
		if got := LoRaPHYPayload(tt.frm); got != tt.want {
			t.Errorf("LoRaPHYPayload(%d) = %d, want %d", tt.frm, got, tt.want)
		}
	}
}

func TestTimeOff(t *testing.T) {
	tests := []struct {
		airtime time.Duration
		dc      float64
		want    time.Duration
	}{
		{time.Second, 0.01, 99 * time.Second},
		{time.Second, 0.001, 999 * time.Second},
		{time.Second, 0.1, 9 * time.Second},
		{time.Second, 0, 0},
		{time.Second, 1, 0},
		{time.Second, -0.5, 0},
		{0, 0.01, 0},
	}
	for _, tt := range tests {
		if got := TimeOff(tt.airtime, tt.dc); !near(got, tt.want, time.Microsecond) {
			t.Errorf("TimeOff(%v, %v) = %v, want %v", tt.airtime, tt.dc, got, tt.want)
		}
	}
}

func TestMinPeriod(t *testing.T) {
	// RADIO.md section 5 [S], last column: 20 B application payload
	// (PL 33) at 1 %, and at 0.1 % for SF12.
	tests := []struct {
		sf   int
		dc   float64
		want time.Duration
		tol  time.Duration
	}{
		{7, 0.01, 7200 * time.Millisecond, 50 * time.Millisecond},
		{8, 0.01, 13400 * time.Millisecond, 50 * time.Millisecond},
		{9, 0.01, 24700 * time.Millisecond, 50 * time.Millisecond},
		{10, 0.01, 45300 * time.Millisecond, 50 * time.Millisecond},
		{11, 0.01, 98700 * time.Millisecond, 50 * time.Millisecond},
		{12, 0.01, 181 * time.Second, 500 * time.Millisecond},
		{12, 0.001, 1810 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		got := MinPeriod(LoRaUplinkAirtime(tt.sf, 20), tt.dc)
		if !near(got, tt.want, tt.tol) {
			t.Errorf("MinPeriod(SF%d 20 B, %v) = %v, want %v", tt.sf, tt.dc, got, tt.want)
		}
	}
}

func TestSF12DeviceEvery60s(t *testing.T) {
	// A device asked to report every 60 s at SF12 with 20 B can send at
	// most once per ~181 s: the band is still closed at 60 s and 120 s.
	airtime := LoRaUplinkAirtime(12, 20)
	period := MinPeriod(airtime, 0.01)
	const report = 60 * time.Second
	var sent []time.Duration
	next := time.Duration(0)
	for at := time.Duration(0); at < 10*time.Minute; at += report {
		if at >= next {
			sent = append(sent, at)
			next = at + period
		}
	}
	want := []time.Duration{0, 4 * time.Minute, 8 * time.Minute}
	if len(sent) != len(want) {
		t.Fatalf("sends in 10 min at 60 s with min period %v = %v, want %v", period, sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Errorf("send %d at %v, want %v", i, sent[i], want[i])
		}
	}
}

func TestLoRaDataRateFor(t *testing.T) {
	tests := []struct {
		sf, dr, maxPayload int
		ok                 bool
	}{
		{12, 0, 51, true}, {11, 1, 51, true}, {10, 2, 51, true},
		{9, 3, 115, true}, {8, 4, 222, true}, {7, 5, 222, true}, {6, 0, 0, false},
	}
	for _, tt := range tests {
		d, ok := LoRaDataRateFor(tt.sf)
		if ok != tt.ok || d.DR != tt.dr || d.MaxPayload != tt.maxPayload {
			t.Errorf("LoRaDataRateFor(%d) = DR%d max %d ok %v, want DR%d max %d ok %v",
				tt.sf, d.DR, d.MaxPayload, ok, tt.dr, tt.maxPayload, tt.ok)
		}
	}
}

func BenchmarkLoRaAirtime(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = LoRaUplinkAirtime(7+i%6, 20)
	}
}

// A downlink sends no payload CRC, 16 bits fewer: at SF7 a 1-byte payload
// (14 PHY bytes) needs 28 payload symbols instead of 33, so 40.25 symbols
// of 1.024 ms in all against 45.25 for the uplink.
func TestLoRaDownlinkAirtime(t *testing.T) {
	if got, want := LoRaDownlinkAirtime(7, 1), 41216*time.Microsecond; got != want {
		t.Errorf("SF7 1 B downlink: %v, want %v", got, want)
	}
	if got, want := LoRaUplinkAirtime(7, 1), 46336*time.Microsecond; got != want {
		t.Errorf("SF7 1 B uplink: %v, want %v", got, want)
	}
	for sf := 7; sf <= 12; sf++ {
		for _, n := range []int{0, 20, 51} {
			if d, u := LoRaDownlinkAirtime(sf, n), LoRaUplinkAirtime(sf, n); d > u || d <= 0 {
				t.Errorf("SF%d %d B: downlink %v, uplink %v; want 0 < downlink <= uplink", sf, n, d, u)
			}
		}
	}
}
