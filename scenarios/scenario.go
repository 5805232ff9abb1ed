package scenarios

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/netem"
)

// Version is the scenario format version this package reads.
const Version = 1

// Scenario is a decoded, defaulted and validated scenario file. Its fields
// mirror the YAML keys, given in the yaml tags.
type Scenario struct {
	Version     int    `yaml:"version"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Seed seeds every random choice of the run; see SeedSet.
	Seed     uint64        `yaml:"seed"`
	Duration time.Duration `yaml:"duration"`
	Drain    time.Duration `yaml:"drain"`
	Target   Target        `yaml:"target"`
	Backend  Backend       `yaml:"backend"`
	Groups   []Group       `yaml:"groups"`
	Stages   []Stage       `yaml:"stages"`
	// ThresholdExprs are the thresholds as written; Thresholds returns
	// them parsed.
	ThresholdExprs []string `yaml:"thresholds"`

	// File is the path the scenario was read from, as given to Load.
	File string `yaml:"-"`

	seedSet    bool
	thresholds []report.Threshold
	// wsTLS configures wss:// connections to the broker, by device (-1
	// for the backend); nil verifies against the system's roots.
	wsTLS func(device int) *tls.Config
}

// Target is the broker under test.
type Target struct {
	// Broker is "embedded", "embedded+ws" (devices speak MQTT over
	// WebSocket to it) or a normalised "tcp://host:port",
	// "mqtt://host:port", "ws://host:port/path" or "wss://host:port/path",
	// or over TLS "mqtts://", "ssl://" or "tls://".
	Broker string `yaml:"broker"`
	// TLS secures the broker connections: the backend's, and those of
	// every MQTT group without a tls block of its own.
	TLS *TLS `yaml:"tls"`
	// UsernameEnv and PasswordEnv name environment variables that hold
	// the credentials; the values are read at run time, never stored.
	UsernameEnv string `yaml:"username_env"`
	PasswordEnv string `yaml:"password_env"`
	// SourceAddresses is the size of the 127.0.0.x source-address pool
	// for loopback brokers; 0 lets the run choose.
	SourceAddresses int `yaml:"source_addresses"`
	// CoAP is the CoAP server of protocol: coap groups: "embedded" (the
	// default when a group speaks CoAP) or a normalised
	// "coap://host:port"; empty when no group speaks CoAP.
	CoAP string `yaml:"coap,omitempty"`
	// LwM2M is the LwM2M server of protocol: lwm2m groups: "embedded"
	// (the default when a group speaks LwM2M) or a normalised
	// "coap://host:port"; empty when no group speaks LwM2M.
	LwM2M string `yaml:"lwm2m,omitempty"`
	// HTTP and WebSocket are the servers of http and websocket groups:
	// "embedded" (m2msim's endpoint, the default) or a normalised
	// "http(s)://host:port", "ws(s)://host:port"; empty when unused.
	HTTP      string `yaml:"http,omitempty"`
	WebSocket string `yaml:"websocket,omitempty"`
	// Restart stops the embedded broker during the run and starts it
	// again: a reconnect storm on cue.
	Restart *BrokerRestart `yaml:"restart,omitempty"`
}

// Group is a set of identical devices.
type Group struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
	// Protocol is mqtt (the default), coap, lwm2m, http or websocket.
	Protocol string `yaml:"protocol"`
	// CoAP sets a coap group's message layer, DTLS its security; MQTT
	// an mqtt group's protocol version and MQTT 5 properties.
	CoAP *CoAP `yaml:"coap"`
	DTLS *DTLS `yaml:"dtls"`
	MQTT *MQTT `yaml:"mqtt"`
	// TLS secures an MQTT group's connections, instead of target.tls.
	TLS *TLS `yaml:"tls"`
	// LwM2M sets an lwm2m group's registration, reporting and firmware
	// campaign.
	LwM2M     *LwM2M        `yaml:"lwm2m"`
	ClientID  *sim.Template `yaml:"client_id"`
	Connect   Connect       `yaml:"connect"`
	Reconnect Reconnect     `yaml:"reconnect"`
	Telemetry *Telemetry    `yaml:"telemetry"`
	Commands  *Exchange     `yaml:"commands"`
	Requests  *Exchange     `yaml:"requests"`
	// Radio names a radio profile (m2msim radios lists them) whose link
	// shapes every connection of the group.
	Radio string `yaml:"radio"`
	// Link overrides the radio's link, or gives the whole link when there
	// is no radio, in tc-netem's own syntax per direction.
	Link Link `yaml:"link"`
	// OnBusy is what a send does when the radio is on air or its band is
	// closed by the duty cycle: defer (wait in the queue) or drop.
	OnBusy string `yaml:"on_busy"`
	// Queue bounds the sends held while the radio is busy; QueueBytes
	// bounds their bytes too; QueueDrop says which go when it is full.
	Queue      int      `yaml:"queue"`
	QueueBytes ByteSize `yaml:"queue_bytes"`
	QueueDrop  string   `yaml:"queue_drop"`
	// Sleep is cellular idle mode: eDRX paging windows and PSM.
	Sleep *Sleep `yaml:"sleep"`
	// Downlink is when a device hears the network: always; class-a or
	// after-uplink (only in a receive window after each of its uplinks);
	// class-c (LoRaWAN, listening on RX2 between uplinks). The default is
	// the radio's: after-uplink for Sigfox and Iridium, class-a for
	// LoRaWAN, always otherwise.
	Downlink string `yaml:"downlink"`
	// Collisions is how LoRaWAN frames that overlap at the gateway fare:
	// capture (the stronger survives; the gateway demodulates 8 at once)
	// or aloha (both lost). Only for lorawan radios; capture by default.
	Collisions string `yaml:"collisions"`
	// HTTP sets an http group's client, WebSocket a websocket group's
	// socket.
	HTTP      *HTTP      `yaml:"http"`
	WebSocket *WebSocket `yaml:"websocket"`

	link   netem.Link // Radio's link with Link applied, once validated
	limits *sim.Radio // Radio's airtime, duty cycle and payload cap
	wake   *sim.Wake  // Radio's wake-up cost from idle
}

// Sleep is cellular idle mode: a device that has sent nothing for
// Inactivity goes idle and hears commands only in a paging window of PTW
// once every EDRX cycle; with PSM it then becomes unreachable until its
// next uplink or periodic TAU.
type Sleep struct {
	EDRX       time.Duration `yaml:"edrx"`
	PTW        time.Duration `yaml:"ptw"`
	Inactivity time.Duration `yaml:"inactivity"`
	PSM        *PSM          `yaml:"psm"`
}

// PSM is 3GPP power saving mode: Active (T3324) after going idle the
// device enters PSM; TAU (T3412) after going idle it wakes for a periodic
// tracking area update.
type PSM struct {
	Active time.Duration `yaml:"active"`
	TAU    time.Duration `yaml:"tau"`
}

// Downlink reception modes.
const (
	DownlinkAlways      = "always"
	DownlinkAfterUplink = "after-uplink"
	DownlinkClassA      = "class-a"
	DownlinkClassC      = "class-c"
)

// Collision models.
const (
	CollisionsCapture = "capture"
	CollisionsALOHA   = "aloha"
)

// Queue drop policies.
const (
	DropNewest = "newest"
	DropOldest = "oldest"
)

// Busy policies.
const (
	OnBusyDefer = "defer"
	OnBusyDrop  = "drop"
)

// Link is a device's link per direction, in tc-netem syntax ("delay 100ms
// 20ms distribution normal loss 1% rate 1mbit"). Uplink is device to
// server, downlink server to device.
type Link struct {
	Up   string `yaml:"up"`
	Down string `yaml:"down"`
	// NATTimeout is a carrier NAT's UDP binding timeout: a device's
	// next datagram after that much silence leaves from a new source
	// port. CoAP groups only; 0 for none.
	NATTimeout time.Duration `yaml:"nat_timeout,omitempty"`
}

// Shaped reports whether the group's connections go through a shaped
// link, and returns that link.
func (g *Group) Shaped() (netem.Link, bool) {
	return g.link, g.link != netem.Link{}
}

// Connect is how a group's devices connect.
type Connect struct {
	Rate         sim.Rate      `yaml:"rate"`
	Timeout      time.Duration `yaml:"timeout"`
	KeepAlive    time.Duration `yaml:"keepalive"`
	CleanSession bool          `yaml:"clean_session"`
	// Mode is persistent (connect once, stay connected) or per-report
	// (sleep without a connection; each report or request wakes the
	// device, which connects, sends, and disconnects).
	Mode string `yaml:"mode"`
	// Linger keeps a per-report device connected this long after its
	// sends are acknowledged, to take commands the broker queued.
	Linger time.Duration `yaml:"linger"`
}

// Connection modes.
const (
	ModePersistent = "persistent"
	ModePerReport  = "per-report"
)

// Reconnect is a group's reconnect policy.
type Reconnect struct {
	// Backoff is none, fixed, exponential or full-jitter.
	Backoff string        `yaml:"backoff"`
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// Telemetry is periodic device-to-backend reporting.
type Telemetry struct {
	Every  time.Duration `yaml:"every"`
	Jitter time.Duration `yaml:"jitter"`
	// Phase is random (each device starts at its own offset) or aligned.
	Phase   string        `yaml:"phase"`
	Topic   *sim.Template `yaml:"topic"`
	Payload *sim.Template `yaml:"payload"`
	// Size pads payloads with spaces up to this size; 0 sends them as
	// rendered.
	Size   ByteSize `yaml:"size"`
	QoS    int      `yaml:"qos"`
	Retain bool     `yaml:"retain"`
	// DriftPPM bounds each device's clock error in parts per million.
	DriftPPM float64 `yaml:"drift_ppm"`
	// Path, Method (POST or PUT) and Confirmable are a CoAP group's
	// instead of Topic, QoS and Retain.
	Path        *sim.Template `yaml:"path"`
	Method      string        `yaml:"method,omitempty"`
	Confirmable *bool         `yaml:"confirmable"`
	// Bursts adds exception reports at random times.
	Bursts *Bursts `yaml:"bursts"`
}

// Bursts are exception reports: at random times, Every apart on average,
// a device sends Count extra reports Spacing apart.
type Bursts struct {
	Every   time.Duration `yaml:"every"`
	Count   int           `yaml:"count"`
	Spacing time.Duration `yaml:"spacing"`
}

// Exchange is a request and its reply: commands (backend to device) or
// requests (device to backend).
type Exchange struct {
	Every      time.Duration `yaml:"every"`
	Jitter     time.Duration `yaml:"jitter"`
	Topic      *sim.Template `yaml:"topic"`
	ReplyTopic *sim.Template `yaml:"reply_topic"`
	Payload    *sim.Template `yaml:"payload"`
	Size       ByteSize      `yaml:"size"`
	QoS        int           `yaml:"qos"`
	// Path, Method (GET by default) and Confirmable are a CoAP group's
	// requests' instead of the topics and QoS: the response answers. A
	// CoAP group's commands are notifications of the resource at Path,
	// which the device observes, and its replies go to ReplyPath.
	Path        *sim.Template `yaml:"path"`
	ReplyPath   *sim.Template `yaml:"reply_path"`
	Method      string        `yaml:"method,omitempty"`
	Confirmable *bool         `yaml:"confirmable"`
}

// Stage ramps the number of active devices linearly from the previous
// stage's level to Devices over Duration.
type Stage struct {
	Name     string        `yaml:"name"`
	Duration time.Duration `yaml:"duration"`
	Devices  int           `yaml:"devices"`
}

// Load reads and parses the scenario file at path. A scenario that is not
// valid gives Problems.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates the scenario in data; file names
// it in problems. It returns Problems, listing every problem found, when
// the scenario is not valid. It never panics.
func Parse(file string, data []byte) (*Scenario, error) {
	s, probs := parse(newSource(file, data), data)
	if len(probs) > 0 {
		return nil, probs.sorted()
	}
	return s, nil
}

func parse(src *source, data []byte) (*Scenario, Problems) {
	if p, bad := src.badChar(); bad {
		return nil, Problems{p}
	}
	root, p, ok := parseYAML(src, data)
	if !ok {
		return nil, Problems{p}
	}
	d := newDecoder(src)
	s := &Scenario{File: src.file}
	d.decode(root, "", s)
	if d.stopped {
		return nil, d.probs
	}
	s.withDefaults(d.has)
	s.validate(d.tree)
	return s, d.probs
}

// SeedSet reports whether the scenario gives a seed. When it does not,
// the run picks one and prints it so the run can be repeated.
func (s *Scenario) SeedSet() bool { return s.seedSet }

// Thresholds returns the parsed thresholds.
func (s *Scenario) Thresholds() []report.Threshold {
	return append([]report.Threshold(nil), s.thresholds...)
}

// Devices is the fleet size: the sum of the group counts.
func (s *Scenario) Devices() int {
	n := 0
	for _, g := range s.Groups {
		n += g.Count
	}
	return n
}

// Embedded reports whether the target is the embedded broker.
func (t Target) Embedded() bool { return t.Broker == brokerEmbedded || t.Broker == brokerEmbeddedWS }

// Addr returns the broker's host:port, or "" for the embedded broker.
func (t Target) Addr() string {
	u, err := url.Parse(t.Broker)
	if t.Embedded() || err != nil {
		return ""
	}
	return u.Host
}

// Loopback reports whether the broker is embedded or on a loopback
// address, where a pool of 127.0.0.x source addresses can reach it.
func (t Target) Loopback() bool {
	if t.Embedded() {
		return true
	}
	host, _, err := net.SplitHostPort(t.Addr())
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
