package scenarios

import "github.com/m2msim/m2msim/sim"

// Plan converts s into the engine's plan. Seed is s.Seed when the
// scenario sets one and 0 otherwise: the caller then picks one and prints
// it. Credentials are left empty; the runtime reads them from the
// environment variables the target names. Templates are shared with s.
func (s *Scenario) Plan() *sim.Plan {
	p := &sim.Plan{
		Name:     s.Name,
		Duration: s.Duration,
		Drain:    s.Drain,
		Groups:   make([]sim.Group, len(s.Groups)),
		E2E:      s.Backend.sampling(),
	}
	if s.seedSet {
		p.Seed = s.Seed
	}
	for i := range s.Groups {
		p.Groups[i] = s.Groups[i].plan()
		// Only m2msim's own CoAP server sees what CoAP devices send.
		p.Groups[i].Untimed = s.Groups[i].IsCoAP() && !s.Target.CoAPEmbedded()
		if s.Groups[i].IsLwM2M() {
			s.Groups[i].lwm2mPlan(&p.Groups[i], s.Target)
		}
		if s.Groups[i].speaksWeb() {
			s.httpPlan(&s.Groups[i], &p.Groups[i])
		}
	}
	for _, st := range s.Stages {
		p.Stages = append(p.Stages, sim.Stage{Name: st.Name, Duration: st.Duration, Devices: st.Devices})
	}
	return p
}

func (g *Group) plan() sim.Group {
	policy, _ := sim.ParseBackoffPolicy(g.Reconnect.Backoff)
	return sim.Group{
		Name:     g.Name,
		Count:    g.Count,
		Protocol: g.Protocol,
		// CoAP's response answers a request.
		InlineAnswers: g.IsCoAP(),
		ClientID:      g.ClientID,
		Connect: sim.Connect{
			Rate:         g.Connect.Rate,
			Timeout:      g.Connect.Timeout,
			KeepAlive:    g.Connect.KeepAlive,
			CleanSession: g.Connect.CleanSession,
			PerReport:    g.Connect.Mode == ModePerReport,
			Linger:       g.Connect.Linger,
		},
		Reconnect: sim.Backoff{Policy: policy, Initial: g.Reconnect.Initial, Max: g.Reconnect.Max},
		Telemetry: g.Telemetry.plan(),
		Commands:  g.Commands.plan(),
		Requests:  g.Requests.plan(),
		Radio:     g.limits,
		Sleep:     g.Sleep.plan(),
		Wake:      g.wake,
	}
}

func (t *Telemetry) plan() *sim.Telemetry {
	if t == nil {
		return nil
	}
	dest, qos := t.dest()
	return &sim.Telemetry{
		Every:    t.Every,
		Jitter:   t.Jitter,
		Aligned:  t.Phase == phaseAligned,
		Topic:    dest,
		Payload:  t.Payload,
		Size:     int(t.Size),
		QoS:      qos,
		Retain:   t.Retain,
		DriftPPM: t.DriftPPM,
		Bursts:   t.Bursts.plan(),
	}
}

func (e *Exchange) plan() *sim.Exchange {
	if e == nil {
		return nil
	}
	x := &sim.Exchange{
		Every:      e.Every,
		Jitter:     e.Jitter,
		Topic:      e.Topic,
		ReplyTopic: e.ReplyTopic,
		Payload:    e.Payload,
		Size:       int(e.Size),
		QoS:        byte(e.QoS),
	}
	if e.Path != nil { // CoAP: a request's response answers it; a command's reply goes to its own path
		x.Topic, x.ReplyTopic, x.QoS = e.Path, e.ReplyPath, byte(confirmable(e.Confirmable))
	}
	return x
}

func (s *Sleep) plan() *sim.Sleep {
	if s == nil {
		return nil
	}
	p := &sim.Sleep{EDRX: s.EDRX, PTW: s.PTW, Inactivity: s.Inactivity}
	if s.PSM != nil {
		p.Active, p.TAU = s.PSM.Active, s.PSM.TAU
	}
	return p
}

func (b *Bursts) plan() *sim.Bursts {
	if b == nil {
		return nil
	}
	return &sim.Bursts{Every: b.Every, Count: b.Count, Spacing: b.Spacing}
}
