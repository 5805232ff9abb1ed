package scenarios

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/radio"
)

// Limits the schema enforces.
const (
	// MaxDevices is the fleet's size limit: sim.Token carries the device
	// index in 24 bits.
	MaxDevices = 1<<24 - 1
	// MaxRun bounds duration plus drain: sim.Token carries the intended
	// send time in 40 bits of microseconds (about 305h).
	MaxRun = 300 * time.Hour
	// MaxSize bounds padded payload sizes.
	MaxSize        = 256 * MiB
	maxNameLen     = 100
	maxSourceAddrs = 254
	maxKeepAlive   = 65535 * time.Second
	perMessageMsg  = "must not use per-message placeholders ({{seq}}, {{ts}}, {{time}}, {{rand}}, {{track}}, {{track8}})"
)

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (s *Scenario) validate(t *tree) {
	switch {
	case !t.has("version"):
		t.add("version", "required: add version: %d", Version)
	case s.Version != Version:
		t.add("version", "must be %d, got %d", Version, s.Version)
	}
	if !t.has("name") {
		t.add("name", "required: it names the output directory")
	} else {
		checkName(t, "name", s.Name)
	}
	s.validateTiming(t)
	s.Target.validate(t)
	s.Backend.validate(t)
	s.validateGroups(t)
	s.validateProtocols(t)
	s.validateMQTT(t)
	s.validateLwM2M(t)
	s.validateTLS(t)
	s.validateRestart(t)
	s.validateHTTP(t)
	s.validateStages(t)
	s.validateThresholds(t)
}

// checkName checks a name that ends up in paths and topics.
func checkName(t *tree, path, name string) bool {
	switch {
	case !namePattern.MatchString(name):
		t.add(path, "must be letters, digits, '.', '_' or '-', got %q", name)
	case strings.Trim(name, ".") == "":
		t.add(path, "must not be only dots, got %q", name)
	case len(name) > maxNameLen:
		t.add(path, "must be at most %d characters, got %d", maxNameLen, len(name))
	default:
		return true
	}
	return false
}

func (s *Scenario) validateTiming(t *tree) {
	total := s.stagesTotal()
	switch {
	case !t.has("duration") && len(s.Stages) == 0:
		t.add("duration", "required unless stages are given")
	case t.has("duration") && s.Duration <= 0:
		t.add("duration", "must be > 0, got %s", s.Duration)
	case s.Duration < total:
		t.add("duration", "must be at least the stages' total %s, got %s", total, s.Duration)
	case s.Duration > MaxRun || s.Drain > MaxRun-s.Duration:
		t.add("duration", "plus drain must be at most %s, got %s + %s", MaxRun, s.Duration, s.Drain)
	}
	if s.Drain < 0 {
		t.add("drain", "must be >= 0, got %s", s.Drain)
	}
}

func (tg *Target) validate(t *tree) {
	if _, err := brokerAddress.normalise(tg.Broker); err != nil {
		t.add("target.broker", "%v", err)
	}
	checkEnv(t, "target.username_env", tg.UsernameEnv)
	checkEnv(t, "target.password_env", tg.PasswordEnv)
	switch n := tg.SourceAddresses; {
	case n < 0 || n > maxSourceAddrs:
		t.add("target.source_addresses", "must be 0 (auto) to %d, got %d", maxSourceAddrs, n)
	case n > 0 && !tg.Loopback():
		t.add("target.source_addresses", "only applies to the embedded broker and loopback brokers, not %s", tg.Broker)
	}
}

// checkEnv checks the name of a credentials variable; empty means none.
func checkEnv(t *tree, path, name string) {
	if name != "" && !envPattern.MatchString(name) {
		t.add(path, "must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), got %q", name)
	}
}

func (s *Scenario) validateGroups(t *tree) {
	if len(s.Groups) == 0 {
		t.add("groups", "required: list at least one group of devices")
		return
	}
	names := map[string]int{}
	shared := map[string]string{}
	total := 0
	for i := range s.Groups {
		g := &s.Groups[i]
		p := fmt.Sprintf("groups[%d]", i)
		if checkName(t, p+".name", g.Name) {
			if j, dup := names[g.Name]; dup {
				t.add(p+".name", "%q is already the name of groups[%d]", g.Name, j)
			} else {
				names[g.Name] = i
			}
		}
		base := total
		total = g.validateCount(t, p, total)
		g.validate(t, p, shared)
		g.validateShortTokens(t, p, base)
	}
}

// validateShortTokens checks that short tokens can name the group's
// devices: they carry 21 bits of the fleet-wide device index.
func (g *Group) validateShortTokens(t *tree, p string, base int) {
	last := base + g.Count - 1
	if last < sim.ShortMaxDevices {
		return
	}
	for _, f := range []struct {
		path string
		tpl  *sim.Template
	}{{".telemetry.payload", g.telemetryPayload()}, {".commands.payload", g.Commands.payload()}, {".requests.payload", g.Requests.payload()}} {
		if f.tpl != nil && f.tpl.Uses("track8") {
			what := "{{track8}}"
			if !t.has(p + f.path) {
				what = "the radio's default payload {{track8}}"
			}
			t.add(p+f.path, "%s tells %d devices apart, but this group's reach fleet index %d: use {{track}} or a smaller fleet",
				what, sim.ShortMaxDevices, last)
		}
	}
}

func (g *Group) telemetryPayload() *sim.Template {
	if g.Telemetry == nil {
		return nil
	}
	return g.Telemetry.Payload
}

func (e *Exchange) payload() *sim.Template {
	if e == nil {
		return nil
	}
	return e.Payload
}

// Payloads that fit small radios, used instead of the defaults when those
// are larger than the radio takes: the token alone, or the short token.
const (
	fullTokenPayload  = "{{track}}"
	shortTokenPayload = "{{track8}}"
	defaultPayloadMax = 128 // the default payloads render below this
)

// fitPayload returns the default payload to use under a radio payload cap
// of max bytes (0: none), given the usual default.
func fitPayload(def *sim.Template, max int) *sim.Template {
	switch {
	case max <= 0 || max >= defaultPayloadMax:
		return def
	case max >= sim.TokenLen:
		return sim.MustTemplate(fullTokenPayload)
	}
	return sim.MustTemplate(shortTokenPayload)
}

// fitDefaults shrinks the payloads the scenario left to their defaults
// to what the radio carries.
func (g *Group) fitDefaults(t *tree, p string, prof radio.Profile) {
	up, down := prof.MaxPayload, prof.MaxDownPayload
	if g.Downlink == DownlinkClassC && g.limits != nil {
		down = g.limits.MaxDownPayload
	}
	if g.Telemetry != nil && !t.has(p+".telemetry.payload") {
		g.Telemetry.Payload = fitPayload(g.Telemetry.Payload, up)
	}
	// An exchange's payload crosses both ways: it must fit either cap.
	both := min(noCap(up), noCap(down))
	if g.Commands != nil && !t.has(p+".commands.payload") {
		g.Commands.Payload = fitPayload(g.Commands.Payload, both)
	}
	if g.Requests != nil && !t.has(p+".requests.payload") {
		g.Requests.Payload = fitPayload(g.Requests.Payload, both)
	}
}

// noCap maps a cap of 0 (none) to the largest int, for min.
func noCap(n int) int {
	if n <= 0 {
		return math.MaxInt
	}
	return n
}

// validateCount checks a group's count and the running fleet total, which
// it returns.
func (g *Group) validateCount(t *tree, p string, total int) int {
	switch {
	case !t.has(p + ".count"):
		t.add(p+".count", "required: the number of devices in the group")
	case g.Count < 1 || g.Count > MaxDevices:
		t.add(p+".count", "must be 1 to %d, got %d", MaxDevices, g.Count)
	case total <= MaxDevices && total+g.Count > MaxDevices:
		t.add(p+".count", "brings the fleet to %d devices; at most %d in total", total+g.Count, MaxDevices)
	}
	if g.Count > 0 && total <= MaxDevices {
		total += min(g.Count, MaxDevices+1)
	}
	return total
}

// validate checks a group at path p. shared maps the templates that only
// {{index}} makes unique to the path that first used them, to catch two
// groups rendering the same client IDs or topics.
func (g *Group) validate(t *tree, p string, shared map[string]string) {
	g.validateClientID(t, p+".client_id", shared)
	g.Connect.validate(t, p+".connect")
	if g.Connect.Mode == ModePerReport && g.Telemetry == nil && g.Requests == nil {
		t.add(p+".connect.mode", "per-report devices only wake to send: add telemetry or requests, or use %s", ModePersistent)
	}
	g.Reconnect.validate(t, p+".reconnect")
	g.validateLink(t, p)
	if g.IsCoAP() || g.IsLwM2M() || g.speaksWeb() { // the rest in validateProtocols, validateLwM2M and validateHTTP, which know the target
		if g.Telemetry != nil {
			g.Telemetry.validateTiming(t, p+".telemetry")
		}
		if g.Requests != nil {
			checkPeriod(t, p+".requests", g.Requests.Every, g.Requests.Jitter)
			checkSize(t, p+".requests.size", g.Requests.Size)
		}
		return
	}
	for _, f := range []string{"telemetry", "requests"} {
		for _, k := range []string{"path", "method", "confirmable"} {
			if t.has(p + "." + f + "." + k) {
				t.add(p+"."+f+"."+k, "is CoAP's: set protocol: coap, or use topic and qos")
			}
		}
	}
	if g.Telemetry != nil {
		g.Telemetry.validate(t, p+".telemetry")
	}
	if g.Commands != nil {
		g.Commands.validate(t, p+".commands", shared)
	}
	if g.Requests != nil {
		g.Requests.validate(t, p+".requests", shared)
	}
	g.validateTopicsDiffer(t, p)
}

func (g *Group) validateClientID(t *tree, path string, shared map[string]string) {
	id := g.ClientID
	if !id.Uses("index") && !id.Uses("device") {
		t.add(path, "must use {{index}} or {{device}} so each device gets its own ID, got %q", id)
	}
	if id.Uses("id") {
		t.add(path, "must not use {{id}}: it is the client ID itself")
	}
	if id.PerMessage() {
		t.add(path, perMessageMsg)
	}
	if strings.ContainsAny(id.String(), "/+#\x00") {
		t.add(path, "must not contain /, +, # or NUL: topics use it through {{id}}")
	}
	if !id.Uses("group") && !id.Uses("device") {
		checkShared(t, path, id, shared)
	}
}

// checkShared reports a template that a previous group already used
// when only {{index}} tells its renderings apart: device 0 of both groups
// would render the same string.
func checkShared(t *tree, path string, tpl *sim.Template, shared map[string]string) {
	key := tpl.String()
	if first, ok := shared[key]; ok {
		t.add(path, "renders the same strings as %s; add {{group}} or use {{device}}", first)
		return
	}
	shared[key] = path
}

func (c *Connect) validate(t *tree, p string) {
	if c.Timeout <= 0 {
		t.add(p+".timeout", "must be > 0, got %s", c.Timeout)
	}
	switch k := c.KeepAlive; {
	case k < 0 || k > maxKeepAlive:
		t.add(p+".keepalive", "must be 0s to %s, got %s", maxKeepAlive, k)
	case k%time.Second != 0:
		t.add(p+".keepalive", "must be whole seconds, got %s", k)
	}
	switch c.Mode {
	case ModePersistent, ModePerReport:
	default:
		t.add(p+".mode", "must be %s or %s, got %q", ModePersistent, ModePerReport, c.Mode)
	}
	if c.Linger < 0 {
		t.add(p+".linger", "must be >= 0, got %s", c.Linger)
	}
}

func (r *Reconnect) validate(t *tree, p string) {
	policy, err := sim.ParseBackoffPolicy(r.Backoff)
	switch {
	case err != nil:
		t.add(p+".backoff", "must be none, fixed, exponential or full-jitter, got %q", r.Backoff)
	case policy == sim.BackoffNone:
		return // the delays are not used
	}
	if r.Initial <= 0 {
		t.add(p+".initial", "must be > 0, got %s", r.Initial)
	}
	if r.Max < r.Initial {
		t.add(p+".max", "must be >= initial (%s), got %s", r.Initial, r.Max)
	}
}

func (tm *Telemetry) validate(t *tree, p string) {
	tm.validateTiming(t, p)
	checkTopic(t, p+".topic", tm.Topic)
	checkQoS(t, p+".qos", tm.QoS)
}

// validateTiming checks what telemetry has whatever its protocol: its
// schedule and size.
func (tm *Telemetry) validateTiming(t *tree, p string) {
	if b := tm.Bursts; b != nil {
		if b.Every <= 0 {
			t.add(p+".bursts.every", "must be > 0, got %s", b.Every)
		}
		if b.Count < 1 || b.Count > 1000 {
			t.add(p+".bursts.count", "must be 1 to 1000, got %d", b.Count)
		}
		if b.Spacing < 0 {
			t.add(p+".bursts.spacing", "must be >= 0, got %s", b.Spacing)
		}
	}
	if tm.DriftPPM < 0 || tm.DriftPPM > 10000 {
		t.add(p+".drift_ppm", "must be 0 to 10000 parts per million, got %g", tm.DriftPPM)
	}
	checkPeriod(t, p, tm.Every, tm.Jitter)
	if tm.Phase != phaseRandom && tm.Phase != phaseAligned {
		t.add(p+".phase", "must be random or aligned, got %q", tm.Phase)
	}
	checkSize(t, p+".size", tm.Size)
}

func (e *Exchange) validate(t *tree, p string, shared map[string]string) {
	checkPeriod(t, p, e.Every, e.Jitter)
	for _, f := range []struct {
		key string
		tpl *sim.Template
	}{{"topic", e.Topic}, {"reply_topic", e.ReplyTopic}} {
		path := p + "." + f.key
		checkTopic(t, path, f.tpl)
		if !f.tpl.Uses("id") && !f.tpl.Uses("index") && !f.tpl.Uses("device") {
			t.add(path, "must use {{id}}, {{index}} or {{device}} so each device gets its own topic, got %q", f.tpl)
		} else if !f.tpl.Uses("id") && !f.tpl.Uses("device") && !f.tpl.Uses("group") {
			checkShared(t, path, f.tpl, shared)
		}
	}
	if e.Topic.String() == e.ReplyTopic.String() {
		t.add(p+".reply_topic", "must differ from topic, got %q for both", e.Topic)
	}
	checkSize(t, p+".size", e.Size)
	checkQoS(t, p+".qos", e.QoS)
}

func checkPeriod(t *tree, p string, every, jitter time.Duration) {
	switch {
	case !t.has(p + ".every"):
		t.add(p+".every", "required: the time between two messages")
	case every <= 0:
		t.add(p+".every", "must be > 0, got %s", every)
	case jitter < 0 || jitter > every/2:
		t.add(p+".jitter", "must be 0s to every/2 (%s), got %s", every/2, jitter)
	}
}

func checkTopic(t *tree, path string, tpl *sim.Template) {
	src := tpl.String()
	if src == "" {
		t.add(path, "must not be empty")
	}
	if strings.ContainsAny(src, "+#") {
		t.add(path, "must not contain the wildcards + or #, got %q", src)
	}
	if strings.ContainsRune(src, 0) {
		t.add(path, "must not contain NUL")
	}
	if tpl.PerMessage() {
		t.add(path, perMessageMsg)
	}
}

func checkSize(t *tree, path string, size ByteSize) {
	if size < 0 || size > MaxSize {
		t.add(path, "must be 0 to %s, got %s", MaxSize, size)
	}
}

func checkQoS(t *tree, path string, qos int) {
	if qos < 0 || qos > 2 {
		t.add(path, "must be 0, 1 or 2, got %d", qos)
	}
}

// validateTopicsDiffer checks that a group's flows do not share a topic,
// where a device would take its own messages for another flow's.
func (g *Group) validateTopicsDiffer(t *tree, p string) {
	seen := map[string]string{}
	add := func(path string, tpl *sim.Template) {
		if first, ok := seen[tpl.String()]; ok {
			t.add(path, "is the same topic as %s", first)
			return
		}
		seen[tpl.String()] = path
	}
	if g.Telemetry != nil {
		add(p+".telemetry.topic", g.Telemetry.Topic)
	}
	for _, x := range []struct {
		key string
		e   *Exchange
	}{{"commands", g.Commands}, {"requests", g.Requests}} {
		if x.e != nil {
			add(p+"."+x.key+".topic", x.e.Topic)
			if x.e.ReplyTopic.String() != x.e.Topic.String() {
				add(p+"."+x.key+".reply_topic", x.e.ReplyTopic)
			}
		}
	}
}

func (s *Scenario) validateStages(t *tree) {
	devices := s.Devices()
	for i, st := range s.Stages {
		p := fmt.Sprintf("stages[%d]", i)
		checkName(t, p+".name", st.Name)
		if st.Duration <= 0 {
			t.add(p+".duration", "must be > 0, got %s", st.Duration)
		}
		switch {
		case !t.has(p + ".devices"):
			t.add(p+".devices", "required: the number of active devices at the end of the stage")
		case st.Devices < 0 || st.Devices > devices:
			t.add(p+".devices", "must be 0 to the fleet size %d, got %d", devices, st.Devices)
		}
	}
}

func (s *Scenario) validateThresholds(t *tree) {
	s.thresholds = nil
	for i, expr := range s.ThresholdExprs {
		th, err := report.ParseThreshold(expr)
		var te *report.ThresholdError
		switch {
		case errors.As(err, &te):
			t.add(fmt.Sprintf("thresholds[%d]", i), "%s", te.Reason)
		case err != nil:
			t.add(fmt.Sprintf("thresholds[%d]", i), "%v", err)
		case !s.hasScope(th.Scope, th.Of):
			t.add(fmt.Sprintf("thresholds[%d]", i), "no %s is named %q here: %s", th.Scope, th.Of, s.scopeNames(th.Scope))
		default:
			s.thresholds = append(s.thresholds, th)
		}
	}
}

// hasScope reports whether a threshold's scope names a group or a
// protocol of the scenario.
func (s *Scenario) hasScope(scope, of string) bool {
	switch scope {
	case report.ScopeGroup:
		return slices.ContainsFunc(s.Groups, func(g Group) bool { return g.Name == of })
	case report.ScopeProtocol:
		return s.Speaks(of)
	}
	return true
}

// scopeNames lists what a threshold's scope may name, for its error.
func (s *Scenario) scopeNames(scope string) string {
	var names []string
	for _, g := range s.Groups {
		n := g.Name
		if scope == report.ScopeProtocol {
			n = g.Protocol
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return "the " + scope + "s are " + strings.Join(names, ", ")
}
