package scenarios

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// ProtocolLwM2M is an LwM2M 1.1 group: each device registers with an
// LwM2M server, reports with Send and takes commands as the server's
// Writes.
const ProtocolLwM2M = "lwm2m"

// LwM2M is an lwm2m group's registration and reporting.
type LwM2M struct {
	// Lifetime is the registration's lifetime (lt); the device renews it
	// with an Update at 90 % of it.
	Lifetime time.Duration `yaml:"lifetime"`
	// Queue registers in queue mode (Q): the device sleeps Awake after
	// its last uplink and wakes with an Update before its next Send; the
	// server holds its requests until then.
	Queue bool `yaml:"queue"`
	// Awake is how long a queue-mode device listens after its last
	// uplink, and how long the embedded server counts it awake after its
	// Update.
	Awake time.Duration `yaml:"awake"`
	// Format is the Send's content format: senml-cbor or senml-json.
	Format string `yaml:"format"`
	// Firmware runs a firmware update campaign on the group.
	Firmware *Firmware `yaml:"firmware"`
}

// Firmware is a firmware update campaign: the embedded server starts a
// pull update (Core §E.6) of each device at a seeded time in
// [At, At+Spread], at most Concurrency at once per group.
type Firmware struct {
	At     time.Duration `yaml:"at"`
	Spread time.Duration `yaml:"spread"`
	// Image is the package's size; the embedded server serves one image.
	Image ByteSize `yaml:"image"`
	// Block is the block size devices ask for (16 B to 1 KiB, a power of
	// two).
	Block ByteSize `yaml:"block"`
	// Install is how long a device takes to apply a downloaded package.
	Install     time.Duration `yaml:"install"`
	Concurrency int           `yaml:"concurrency"`
}

// LwM2M defaults.
const (
	defaultLwM2MPort     = "5683"
	defaultLwM2MSPort    = "5684"
	defaultLwM2MLifetime = 300 * time.Second
	defaultLwM2MAwake    = 20 * time.Second
	defaultLwM2MFormat   = "senml-cbor"
	// defaultLwM2MResource is where a payload travels: IPSO
	// Temperature's Application Type, a writable string.
	defaultLwM2MResource = "/3303/0/5750"
	defaultFirmwareImage = 64 * KiB
	defaultFirmwareBlock = 512 * Byte
	defaultFirmwareConc  = 100
	maxLwM2MLifetime     = 365 * 24 * time.Hour
	maxFirmwareImage     = 16 * MiB
)

// IsLwM2M reports whether the group speaks LwM2M.
func (g *Group) IsLwM2M() bool { return g.Protocol == ProtocolLwM2M }

// lwm2mDefaults gives an lwm2m group its registration and sends its
// telemetry and commands to the default resource.
func (g *Group) lwm2mDefaults(has func(string) bool) {
	if g.LwM2M == nil {
		g.LwM2M = new(LwM2M)
	}
	l, lhas := g.LwM2M, scope(has, "lwm2m")
	if !lhas("lifetime") {
		l.Lifetime = defaultLwM2MLifetime
	}
	if !lhas("awake") {
		l.Awake = defaultLwM2MAwake
	}
	if sl := g.Sleep; sl != nil && sl.PSM != nil {
		// A device in PSM is one the server must queue for: it listens
		// for the inactivity timer and then T3324 after each uplink.
		if !lhas("queue") {
			l.Queue = true
		}
		if !lhas("awake") {
			l.Awake = sl.Inactivity + sl.PSM.Active
		}
	}
	l.Format = orString(l.Format, defaultLwM2MFormat)
	if g.DTLS != nil {
		g.DTLS.withDefaults(scope(has, "dtls"))
	}
	if g.CoAP != nil {
		g.CoAP.withDefaults(scope(has, "coap"))
	}
	if f := l.Firmware; f != nil {
		fhas := scope(lhas, "firmware")
		if !fhas("image") {
			f.Image = defaultFirmwareImage
		}
		if !fhas("block") {
			f.Block = defaultFirmwareBlock
		}
		if !fhas("concurrency") {
			f.Concurrency = defaultFirmwareConc
		}
	}
	if t := g.Telemetry; t != nil {
		if !has("telemetry.phase") {
			t.Phase = phaseRandom
		}
		t.Payload = orTemplate(t.Payload, defaultTelemetryPL)
		t.Path = orTemplate(t.Path, defaultLwM2MResource)
	}
	if c := g.Commands; c != nil {
		c.Payload = orTemplate(c.Payload, defaultCommandPL)
		c.Path = orTemplate(c.Path, defaultLwM2MResource)
	}
}

// lwm2mDefault makes the embedded LwM2M server the target of lwm2m
// groups when the scenario names none, and normalises a named one.
func (s *Scenario) lwm2mDefault(has func(string) bool) {
	if !has("target.lwm2m") && s.Speaks(ProtocolLwM2M) {
		s.Target.LwM2M = brokerEmbedded
	}
	if a, err := lwm2mAddress.normalise(s.Target.LwM2M); s.Target.LwM2M != "" && err == nil {
		s.Target.LwM2M = a
	}
}

// LwM2MEmbedded reports whether lwm2m groups run against m2msim's own
// LwM2M server, which then plays the backend: it times the Sends end to
// end, writes commands and runs firmware campaigns.
func (t Target) LwM2MEmbedded() bool { return t.LwM2M == brokerEmbedded }

// LwM2MSecure reports whether LwM2M groups speak DTLS to their server
// because it is a coaps:// one.
func (t Target) LwM2MSecure() bool { return strings.HasPrefix(t.LwM2M, "coaps://") }

// LwM2MAddr returns the external LwM2M server's host:port, or "" for
// none or the embedded one.
func (t Target) LwM2MAddr() string {
	u, err := url.Parse(t.LwM2M)
	if t.LwM2M == "" || t.LwM2MEmbedded() || err != nil {
		return ""
	}
	return u.Host
}

// lwm2mFormat maps a validated format name to its content format.
func (l *LwM2M) format() lwm2m.Format {
	if l.Format == "senml-json" {
		return lwm2m.FormatSenMLJSON
	}
	return lwm2m.FormatSenMLCBOR
}

// validateLwM2M checks the lwm2m groups, the lwm2m blocks of the others
// and target.lwm2m.
func (s *Scenario) validateLwM2M(t *tree) {
	need := false
	image := ByteSize(-1) // the first campaign's
	for i := range s.Groups {
		g, p := &s.Groups[i], fmt.Sprintf("groups[%d]", i)
		if !g.IsLwM2M() {
			if g.LwM2M != nil {
				t.add(p+".lwm2m", "applies to protocol: lwm2m groups only")
			}
			continue
		}
		need = true
		g.validateLwM2M(t, p, s.Target.LwM2MEmbedded())
		switch {
		case g.DTLS != nil:
			g.DTLS.validate(t, p+".dtls", "target.lwm2m", s.Target.LwM2MSecure(), s.Target.LwM2MEmbedded())
		case s.Target.LwM2MSecure():
			t.add(p+".dtls", "required: target.lwm2m is coaps://, so the group needs a key or certificates")
		}
		if f := g.LwM2M.Firmware; f != nil {
			switch {
			case image < 0:
				image = f.Image
			case f.Image != image:
				t.add(p+".lwm2m.firmware.image", "must match the other groups' (%s): the embedded server serves one image", image)
			}
			if f.At+f.Spread >= s.Duration && s.Duration > 0 {
				t.add(p+".lwm2m.firmware", "at + spread (%s) must end before the run does (duration %s)", f.At+f.Spread, s.Duration)
			}
		}
	}
	if s.Target.LwM2M != "" {
		if _, err := lwm2mAddress.normalise(s.Target.LwM2M); err != nil {
			t.add("target.lwm2m", "%v", err)
		} else if !need {
			t.add("target.lwm2m", "no group speaks LwM2M: add protocol: lwm2m to a group, or remove target.lwm2m")
		}
	}
}

// validateLwM2M checks an lwm2m group: its registration, its flows'
// resources, and what LwM2M cannot do.
func (g *Group) validateLwM2M(t *tree, p string, embedded bool) {
	l := g.LwM2M
	switch {
	case l.Lifetime < time.Second || l.Lifetime > maxLwM2MLifetime || l.Lifetime%time.Second != 0:
		t.add(p+".lwm2m.lifetime", "must be whole seconds, 1s to %s, got %s", maxLwM2MLifetime, l.Lifetime)
	case l.Queue && (l.Awake <= 0 || l.Awake >= l.Lifetime) && (g.Sleep == nil || g.Sleep.PSM == nil):
		t.add(p+".lwm2m.awake", "must be > 0 and below the lifetime (%s), got %s", l.Lifetime, l.Awake)
	case l.Queue && l.Awake >= l.Lifetime:
		t.add(p+".lwm2m.lifetime", "must be longer than sleep.inactivity + sleep.psm.active (%s), the time a device in PSM listens after an uplink, got %s", l.Awake, l.Lifetime)
	}
	if l.Format != "senml-cbor" && l.Format != "senml-json" {
		t.add(p+".lwm2m.format", "must be senml-cbor or senml-json, got %q", l.Format)
	}
	if f := l.Firmware; f != nil {
		g.validateFirmware(t, p+".lwm2m.firmware", f, embedded)
	}
	g.CoAP.validate(t, p+".coap")
	if g.Link.NATTimeout < 0 {
		t.add(p+".link.nat_timeout", "must be >= 0, got %s", g.Link.NATTimeout)
	}
	if g.Connect.Mode == ModePerReport {
		t.add(p+".connect.mode", "must be persistent: an LwM2M device stays registered; use lwm2m.queue: true for a device that sleeps")
	}
	if sl := g.Sleep; sl != nil && sl.PSM != nil {
		switch {
		case t.has(p + ".lwm2m.awake"):
			t.add(p+".lwm2m.awake", "is set by sleep: a device in PSM listens for sleep.inactivity + sleep.psm.active after each uplink")
		case !l.Queue:
			t.add(p+".lwm2m.queue", "must be true with sleep.psm: the server cannot reach a device in PSM and must queue its requests")
		case l.Awake <= 0:
			t.add(p+".sleep.psm.active", "an LwM2M device in PSM must stay reachable after its Update for the requests the server queued: give sleep.inactivity or psm.active > 0s")
		}
	}
	if g.Requests != nil {
		t.add(p+".requests", "LwM2M has no request a device sends for the server to answer: report with telemetry (Send), or take commands (the server's Writes)")
	}
	if tl := g.Telemetry; tl != nil {
		g.validateLwM2MFlow(t, p+".telemetry", tl.Path, false, map[string]bool{"topic": tl.Topic != nil,
			"qos": tl.QoS != 0, "retain": tl.Retain, "method": tl.Method != "", "confirmable": tl.Confirmable != nil})
	}
	if c := g.Commands; c != nil {
		if !embedded {
			t.add(p+".commands", "take target.lwm2m: embedded: m2msim's own LwM2M server writes them; another server has no commands from m2msim")
		}
		checkPeriod(t, p+".commands", c.Every, c.Jitter)
		checkSize(t, p+".commands.size", c.Size)
		g.validateLwM2MFlow(t, p+".commands", c.Path, true, map[string]bool{"topic": c.Topic != nil,
			"reply_topic": c.ReplyTopic != nil, "qos": c.QoS != 0, "reply_path": c.ReplyPath != nil,
			"method": c.Method != "", "confirmable": c.Confirmable != nil})
	}
}

// validateLwM2MFlow checks a flow's resource (a fixed path of the
// simulated device, a writable string for commands) and refuses the
// other protocols' keys set to other than their zero value, which the
// normalised form writes.
func (g *Group) validateLwM2MFlow(t *tree, p string, path *sim.Template, write bool, foreign map[string]bool) {
	for _, k := range slices.Sorted(maps.Keys(foreign)) {
		if t.has(p+"."+k) && foreign[k] {
			t.add(p+"."+k, "is not LwM2M's: an lwm2m group's messages travel as a string value of the resource at path")
		}
	}
	if path == nil {
		return
	}
	rp, err := lwm2m.ParsePath(path.String())
	if err != nil || rp.Depth() != 3 {
		t.add(p+".path", "must be a resource path /object/instance/resource without template variables, such as %s, got %q",
			defaultLwM2MResource, path)
		return
	}
	if !write {
		return
	}
	if err := writableString(rp); err != nil {
		t.add(p+".path", "%v", err)
	}
}

// writableString checks that the simulated device has a writable string
// resource at p.
func writableString(p lwm2m.Path) error {
	m := lwm2m.NewModel(lwm2m.Config{})
	typ, ok := m.Type(p)
	if _, has := m.Get(p); !ok || !has {
		return fmt.Errorf("the simulated device has no resource %v: use a writable string such as %s", p, defaultLwM2MResource)
	}
	d, _ := lwm2m.Definition(p.Object())
	r, _ := d.Resource(p.Resource())
	if r.Ops&lwm2m.OpWrite == 0 || typ != lwm2m.TypeString {
		return fmt.Errorf("must be a writable string resource such as %s, got %v (%s, %v)", defaultLwM2MResource, p, r.Name, typ)
	}
	return nil
}

func (g *Group) validateFirmware(t *tree, p string, f *Firmware, embedded bool) {
	if !embedded {
		t.add(p, "takes target.lwm2m: embedded: m2msim's own LwM2M server runs the campaign")
	}
	if f.At < 0 || f.Spread < 0 || f.Install < 0 {
		t.add(p, "at, spread and install must be >= 0, got %s, %s, %s", f.At, f.Spread, f.Install)
	}
	if f.Image < 1 || f.Image > maxFirmwareImage {
		t.add(p+".image", "must be 1B to %s, got %s", maxFirmwareImage, f.Image)
	}
	if b := f.Block; b < 16 || b > KiB || b&(b-1) != 0 {
		t.add(p+".block", "must be a power of two from 16B to 1KiB, got %s", b)
	}
	if f.Concurrency < 1 || f.Concurrency > 10_000 {
		t.add(p+".concurrency", "must be 1 to 10000, got %d", f.Concurrency)
	}
}

// lwm2mPlan adjusts an lwm2m group's engine plan: only the embedded
// server times what devices send, and a command's reply is the Write's
// response, which the backend turns into the reply.
func (g *Group) lwm2mPlan(p *sim.Group, t Target) {
	p.Untimed = !t.LwM2MEmbedded()
	if c := p.Commands; c != nil {
		c.ReplyTopic, c.QoS = c.Topic, 1
	}
	if tl := p.Telemetry; tl != nil {
		tl.QoS = 1 // a Send is confirmable
	}
}
