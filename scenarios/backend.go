package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/sim"
)

// Backend is m2msim's stand-in for the server-side application: the
// connections that receive what devices send and send them commands.
type Backend struct {
	// Connections is how many broker connections share the backend's
	// subscriptions (MQTT shared subscriptions, $share/m2msim/...); 0
	// sizes them from the planned delivery rate.
	Connections Connections `yaml:"connections"`
	// E2E is the share of each group's devices whose telemetry the
	// backend times end to end, chosen by the seed. Timing costs the
	// broker a second delivery of every timed message.
	E2E Share `yaml:"e2e"`
	// Listen is where m2msim's HTTP endpoint listens when http or
	// websocket groups talk to another server in front of it (a proxy).
	Listen string `yaml:"listen,omitempty"`
	// Faults makes the endpoint answer every Nth device request with an
	// error status.
	Faults *Faults `yaml:"faults,omitempty"`
	// ProtocolVersion is the MQTT level of the backend's connections: 4
	// or 5; 0 (the default) follows the groups (5 when any speaks MQTT 5).
	ProtocolVersion int `yaml:"protocol_version,omitempty"`
}

// Backend limits and the auto sizing's rate per connection.
const (
	maxBackendConns = 64
	// perBackendConn is the delivery rate one backend connection is
	// planned for: a QoS 1 subscriber of Mosquitto holds at most 20
	// messages unacknowledged (max_inflight_messages), so its rate is 20
	// per round trip, and round trips grow as the broker loads up.
	perBackendConn = 2000.0
)

// Connections is a number of backend connections, or 0 for auto. It reads
// "auto" or a whole number.
type Connections int

// UnmarshalText reads "auto" or a whole number.
func (c *Connections) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "auto" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("want auto or a whole number of connections from 1 to %d, got %q", maxBackendConns, s)
	}
	*c = Connections(n)
	return nil
}

// MarshalText writes "auto" or the number.
func (c Connections) MarshalText() ([]byte, error) {
	if c == 0 {
		return []byte("auto"), nil
	}
	return []byte(strconv.Itoa(int(c))), nil
}

// Share is a fraction of devices. It reads "all", "none" or a percent
// such as "10%".
type Share float64

// ParseShare reads "all" (100%), "none" (0%) or a percent from 0% to 100%.
func ParseShare(s string) (Share, error) {
	t := strings.TrimSpace(s)
	switch t {
	case "all":
		return 1, nil
	case "none":
		return 0, nil
	}
	num, ok := strings.CutSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, fmt.Errorf("want all, none or a percent from 0%% to 100%% such as 10%%, got %q", s)
	}
	return Share(v / 100), nil
}

// String writes "all", "none" or the percent.
func (s Share) String() string {
	switch s {
	case 1:
		return "all"
	case 0:
		return "none"
	}
	return strconv.FormatFloat(float64(s)*100, 'g', -1, 64) + "%"
}

// UnmarshalText reads a share with ParseShare.
func (s *Share) UnmarshalText(b []byte) error {
	v, err := ParseShare(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes s as String does.
func (s Share) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (b *Backend) withDefaults(has func(string) bool) {
	if !has("e2e") {
		b.E2E = 1
	}
}

func (b *Backend) validate(t *tree) {
	if b.Connections < 0 || b.Connections > maxBackendConns {
		t.add("backend.connections", "must be auto or 1 to %d, got %d", maxBackendConns, b.Connections)
	}
}

// sampling is the plan's end-to-end sample: nil when every device is
// timed.
func (b *Backend) sampling() *sim.Sampling {
	if b.E2E >= 1 {
		return nil
	}
	return &sim.Sampling{Fraction: float64(b.E2E)}
}

// BackendConnections is how many connections the backend opens: the
// scenario's number, or one per perBackendConn messages a second the
// backend is planned to receive at the fleet's peak, up to
// maxBackendConns.
func (s *Scenario) BackendConnections() int {
	if n := int(s.Backend.Connections); n > 0 {
		return n
	}
	rate := s.backendRate()
	return int(min(max(1, math.Ceil(rate/perBackendConn)), maxBackendConns))
}

// backendRate is the messages a second the backend receives with every
// device active: timed telemetry (with its bursts), command replies and
// requests.
func (s *Scenario) backendRate() float64 {
	per := func(n float64, every time.Duration) float64 {
		if every <= 0 {
			return 0
		}
		return n / every.Seconds()
	}
	var rate float64
	for _, g := range s.Groups {
		n := float64(g.Count)
		if t := g.Telemetry; t != nil {
			timed := n * float64(s.Backend.E2E)
			rate += per(timed, t.Every)
			if b := t.Bursts; b != nil {
				rate += per(timed*float64(b.Count), b.Every)
			}
		}
		if c := g.Commands; c != nil {
			rate += per(n, c.Every)
		}
		if r := g.Requests; r != nil {
			rate += per(n, r.Every)
		}
	}
	return rate
}
