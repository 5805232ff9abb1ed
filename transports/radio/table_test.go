package radio

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

func TestWriteTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf); err != nil {
		t.Fatalf("WriteTable() error = %v", err)
	}
	path := filepath.Join("testdata", "radios.golden.txt")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test -update to create it)", path, err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("WriteTable() differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestTable(t *testing.T) {
	rows := Table()
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	want := "nbiot ltem gprs 3g lte 5g lorawan-sf7 lorawan-sf8 lorawan-sf9 lorawan-sf10 lorawan-sf11 " +
		"lorawan-sf12 sigfox wifi ble-gateway geo leo iridium"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("Table() names = %s, want %s", got, want)
	}
	for _, r := range rows {
		if r.Name == "lorawan-sf12" && !near(r.Airtime, ms(1810.4), airtimeTolerance) {
			t.Errorf("Table() %s airtime = %v, want 1810.4ms", r.Name, r.Airtime)
		}
		if r.Name == "nbiot" && (!near(r.P50, 400*time.Millisecond, time.Millisecond) || r.Up != 20_000) {
			t.Errorf("Table() nbiot p50 %v up %v, want 400ms, 20kbit", r.P50, r.Up)
		}
	}
}

func TestRowFormatting(t *testing.T) {
	tests := []struct {
		name                  string
		r                     Row
		rate, payload, limits string
	}{
		{"unlimited", Row{}, "-", "-", "-"},
		{"mtu", Row{Up: 20_000, MTU: 1280}, "20kbit", "mtu 1280", "-"},
		{"phy", Row{PHYRate: 250, MaxPayload: 51, MaxDownPayload: 51, DutyCycle: 0.01}, "250bit phy", "51B", "1% duty"},
		{"sigfox", Row{PHYRate: 100, MaxPayload: 12, MaxDownPayload: 8, DutyCycle: 0.01, MessagesPerDay: 140},
			"100bit phy", "12B/8B", "1% duty, 140/day"},
		{"iridium", Row{MaxPayload: 340, MinInterval: 40 * time.Second}, "-", "340B", "1/40s"},
	}
	for _, tt := range tests {
		if got := tt.r.rate(tt.r.Up); got != tt.rate {
			t.Errorf("Row(%s).rate() = %q, want %q", tt.name, got, tt.rate)
		}
		if got := tt.r.payload(); got != tt.payload {
			t.Errorf("Row(%s).payload() = %q, want %q", tt.name, got, tt.payload)
		}
		if got := tt.r.limits(); got != tt.limits {
			t.Errorf("Row(%s).limits() = %q, want %q", tt.name, got, tt.limits)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0ms"},
		{5500 * time.Microsecond, "5.5ms"},
		{10 * time.Millisecond, "10ms"},
		{71_936 * time.Microsecond, "72ms"},
		{1_810_432 * time.Microsecond, "1.81s"},
		{2 * time.Second, "2s"},
		{20480 * time.Millisecond, "20.48s"},
		{54 * time.Minute, "54m"},
		{10485760 * time.Millisecond, "2h54m46s"},
		{3 * time.Hour, "3h"},
		{70 * time.Minute, "1h10m"},
		{time.Hour + 10*time.Second, "1h0m10s"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
