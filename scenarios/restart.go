package scenarios

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// BrokerRestart stops the embedded broker during the run, as a crash or a
// restart of a broker process would: every connection drops, sessions go,
// and connects are refused until it is back. The fleet's reconnect storm
// follows.
type BrokerRestart struct {
	// At are the run times at which the broker stops.
	At []time.Duration `yaml:"at"`
	// Down is how long it stays down each time.
	Down time.Duration `yaml:"down"`
	// TicketKeys is what the restarted broker does with its TLS session
	// ticket keys: keep them (a broker, or the TLS proxy in front of it,
	// configured with fixed keys), so tickets issued before the restart
	// still resume, or new (a process that makes them at start, as most
	// do by default), so every device pays a full handshake.
	TicketKeys string `yaml:"ticket_keys"`
}

// Ticket key policies.
const (
	ticketKeysKeep = "keep"
	ticketKeysNew  = "new"
)

// defaultRestartDown is how long a restart keeps the broker down when the
// scenario does not say.
const defaultRestartDown = time.Second

func (r *BrokerRestart) withDefaults(has func(string) bool) {
	if !has("down") {
		r.Down = defaultRestartDown
	}
	if !has("ticket_keys") {
		r.TicketKeys = ticketKeysKeep
	}
}

// validateRestart checks target.restart against the target and the run.
func (s *Scenario) validateRestart(t *tree) {
	r := s.Target.Restart
	if r == nil {
		return
	}
	const p = "target.restart"
	if !s.Target.Embedded() {
		t.add(p, "m2msim can restart only its embedded broker (target.broker: embedded); restart a broker of your own from outside, e.g. with systemctl restart mosquitto during the run")
		return
	}
	if len(r.At) == 0 {
		t.add(p+".at", "required: the run times at which the broker stops, such as [20s]")
	}
	if !t.bad[p+".down"] && r.Down <= 0 {
		t.add(p+".down", "must be more than 0, got %s", r.Down)
	}
	if r.TicketKeys != ticketKeysKeep && r.TicketKeys != ticketKeysNew {
		t.add(p+".ticket_keys", "must be keep or new, got %q", r.TicketKeys)
	} else if t.has(p+".ticket_keys") && s.Target.TLS == nil {
		t.add(p+".ticket_keys", "applies to a TLS broker: add target.tls")
	}
	at := slices.Clone(r.At)
	slices.Sort(at)
	run := s.Duration
	for i, a := range at {
		switch {
		case a <= 0 || a >= run:
			t.add(p+".at", "each time must be inside the run (0 to %s), got %s", run, a)
		case i > 0 && a < at[i-1]+r.Down:
			t.add(p+".at", "restarts at %s and %s overlap: each keeps the broker down for %s", at[i-1], a, r.Down)
		}
	}
}

// StartRestarts restarts the embedded broker at the times target.restart
// gives, on the run clock since (the recorder's), counting each in rec.
// It returns at once; stop ends the restarts still planned and waits for
// one in progress, which ends within its down time. Without a restart
// plan, or an embedded broker, stop does nothing.
func (rt *Runtime) StartRestarts(s *Scenario, since func() time.Duration, rec sim.Recorder, log *slog.Logger) (stop func()) {
	r := s.Target.Restart
	if r == nil || rt.broker == nil {
		return func() {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	at := slices.Clone(r.At)
	slices.Sort(at)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, a := range at {
			t := time.NewTimer(a - since())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			rec.Record(sim.Event{Kind: sim.Counted, Group: -1, At: since(), Metric: report.CounterBrokerRestart})
			log.Info("restarting the embedded broker", "down", r.Down)
			// Under the wire the new listeners must open in the server
			// namespace, as the first ones did.
			err := rt.inServer(func() error {
				return rt.broker.Restart(ctx, broker.RestartOptions{Down: r.Down, NewTicketKeys: r.TicketKeys == ticketKeysNew})
			})
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, broker.ErrClosed):
				return
			case err != nil:
				log.Error("embedded broker restart failed", "err", err)
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
