package sim

import (
	"context"
	"time"
)

// outMsg is a command or a request's answer waiting for the backend.
type outMsg struct {
	topic    string
	payload  []byte
	qos      byte
	group    int
	command  bool          // a command, whose round trip the drain awaits; else an answer
	intended time.Duration // a command's intended time
}

// Failure kinds of the backend's own sends.
const (
	errBackendBusy = "backend_busy" // the outbox was full
)

// post hands m to the backend's senders without waiting: a full outbox
// fails it at once. The caller has counted m's round trip as outstanding.
func (e *Engine) post(m outMsg) {
	select {
	case e.outbox <- m:
	default:
		e.outstanding.Add(-1)
		e.record(PublishFailed, m.group, 0, errBackendBusy)
	}
}

// sendLoop publishes what is posted until ctx ends. Each publish waits at
// most Options.BackendTimeout for the backend.
func (e *Engine) sendLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-e.outbox:
			e.backendPublish(ctx, m)
		}
	}
}

func (e *Engine) backendPublish(ctx context.Context, m outMsg) {
	pctx, cancel := context.WithTimeout(ctx, e.o.BackendTimeout)
	err := e.o.Sender.Publish(pctx, Outbound{Group: m.group, Topic: m.topic, Payload: m.payload, QoS: m.qos})
	cancel()
	if err != nil {
		e.outstanding.Add(-1) // the round trip cannot close
		e.record(PublishFailed, m.group, 0, "backend_"+ErrorKind(err))
		return
	}
	if m.command {
		now := e.since()
		e.o.Recorder.Record(Event{Kind: CommandSent, Group: m.group, At: now, Latency: max(0, now-m.intended), Intended: m.intended})
	}
}

// dropOutbox fails what the senders left when the run ended.
func (e *Engine) dropOutbox() {
	for {
		select {
		case m := <-e.outbox:
			e.outstanding.Add(-1)
			e.record(PublishFailed, m.group, 0, "backend_"+errUnsent)
		default:
			return
		}
	}
}
