package sim

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// exchanger is a request/response protocol's stand-in (CoAP, HTTP): every
// acknowledged message is answered after rtt, or fails when fail says
// so; its sessions are no Pinger, and it reports a handshake latency and
// a count of its own.
type exchanger struct {
	rtt  time.Duration
	fail func(m Message) error // nil: answer everything

	mu   sync.Mutex // guards sent
	sent []Message  // Payload dropped
}

type exchangeSession struct {
	x *exchanger
	h Handler
}

func (x *exchanger) Connect(ctx context.Context, spec ConnectSpec, h Handler) (Session, error) {
	h.Measure("handshake", 3*time.Millisecond)
	return &exchangeSession{x: x, h: h}, nil
}

func (s *exchangeSession) Send(m Message) error {
	m.Payload = nil
	s.x.mu.Lock()
	s.x.sent = append(s.x.sent, m)
	s.x.mu.Unlock()
	if m.Ref == 0 {
		return nil
	}
	time.AfterFunc(s.x.rtt, func() {
		if s.x.fail != nil {
			if err := s.x.fail(m); err != nil {
				s.h.Count("retransmit")
				s.h.Failed(m.Ref, err)
				return
			}
		}
		s.h.Acked(m.Ref)
	})
	return nil
}

func (s *exchangeSession) Close() error { return nil }

func exchangePlan(devices int) *Plan {
	p := meterPlan(devices, time.Second, 10*time.Second, 1)
	g := &p.Groups[0]
	g.Protocol, g.InlineAnswers, g.Untimed = "coap", true, true
	g.Requests = &Exchange{Every: 2 * time.Second, Topic: MustTemplate("/config/{{index}}"),
		Payload: MustTemplate(""), QoS: 1}
	return p
}

// A request/response protocol needs no backend: a request's
// acknowledgement is its answer, timed from its intended time.
func TestEngineInlineAnswersNeedNoBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := &exchanger{rtt: 7 * time.Millisecond}
		rec := &tally{}
		e, err := New(exchangePlan(20), Options{Connector: x, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatalf("New without a backend for inline answers: %v", err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		sent, answered := rec.count(RequestSent), rec.count(RequestAnswered)
		if sent < 80 || answered != sent {
			t.Errorf("requests sent %d, answered %d: want >= 80, all answered", sent, answered)
		}
		for _, l := range rec.latencies(RequestAnswered) {
			if l != 7*time.Millisecond {
				t.Fatalf("request round trip %v, want the exchange's 7ms", l)
			}
		}
		if n := rec.count(Delivered); n != 0 {
			t.Errorf("%d deliveries timed for an untimed group, want 0", n)
		}
		if a, p := rec.count(Acked), rec.count(Published); a != p || a < 150 {
			t.Errorf("telemetry published %d, acked %d: want >= 150, all acked", p, a)
		}
		if n := rec.countIf(func(e Event) bool { return e.Kind == Measured && e.Metric == "handshake" }); n != 20 {
			t.Errorf("%d handshake measurements, want one per device (20)", n)
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, m := range x.sent {
			if m.Ref == 0 || (m.Flow != FlowTelemetry && m.Flow != FlowRequest) {
				t.Fatalf("sent %+v: want a reference on every message and a telemetry or request flow", m)
			}
		}
	})
}

type codeError struct{ code string }

func (c codeError) Error() string { return "response " + c.code }
func (c codeError) Kind() string  { return "coap_" + c.code }

// What a transport gives up on after sending is unacknowledged telemetry
// with its reason, and a failed request, counted by the transport's kind.
func TestEngineFailedMessagesCountByKind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := &exchanger{rtt: 5 * time.Millisecond, fail: func(m Message) error {
			if m.Ref%2 == 0 {
				return codeError{"5.03"}
			}
			return nil
		}}
		rec := &tally{}
		e, err := New(exchangePlan(10), Options{Connector: x, Recorder: rec, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		unacked := rec.countIf(func(e Event) bool { return e.Kind == Unacked && e.Err == "coap_5.03" && e.Intended > 0 })
		failedReq := rec.countIf(func(e Event) bool { return e.Kind == PublishFailed && e.Err == "coap_5.03" })
		acked, answered := rec.count(Acked), rec.count(RequestAnswered)
		retrans := rec.countIf(func(e Event) bool { return e.Kind == Counted && e.Metric == "retransmit" })
		total := rec.count(Published) + rec.count(RequestSent)
		if unacked == 0 || failedReq == 0 || acked == 0 || answered == 0 {
			t.Errorf("unacked %d, failed requests %d, acked %d, answered %d: want each > 0", unacked, failedReq, acked, answered)
		}
		if unacked+failedReq+acked+answered != total || retrans != unacked+failedReq {
			t.Errorf("sent %d = unacked %d + failed %d + acked %d + answered %d? retransmit counts %d: want every message once",
				total, unacked, failedReq, acked, answered, retrans)
		}
	})
}

func TestNewNeedsABackendForNonInlineRequests(t *testing.T) {
	p := exchangePlan(1)
	p.Groups[0].InlineAnswers = false
	p.Groups[0].Requests.ReplyTopic = MustTemplate("r")
	if _, err := New(p, Options{Connector: &exchanger{}}); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("New with backend-answered requests and no backend = %v, want ErrNoBackend", err)
	}
	p.Groups[0].InlineAnswers = true
	p.Groups[0].Requests.ReplyTopic = nil
	if _, err := New(p, Options{Connector: &exchanger{}}); err != nil {
		t.Fatalf("New with inline answers and no reply topic = %v, want nil", err)
	}
}

// A backend that gets every message twice (a retransmission whose
// acknowledgement was lost, at a server with no duplicate cache) counts
// each telemetry message and each command reply once, and the second
// copy as a duplicate.
func TestEngineDuplicateDeliveriesCountOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.twice = true
		p := meterPlan(20, time.Second, 5*time.Second, 1)
		p.Groups[0].Commands = &Exchange{Every: time.Second, Topic: MustTemplate("c/{{id}}"),
			ReplyTopic: MustTemplate("r/{{id}}"), Payload: MustTemplate("{{track}}"), QoS: 1}
		rec := run(t, p, b, t.Context())
		pub, del, cmd, rep := rec.count(Published), rec.count(Delivered), rec.count(CommandSent), rec.count(CommandReplied)
		if pub < 80 || del != pub || cmd < 80 || rep != cmd || rec.count(Duplicate) != pub+cmd {
			t.Errorf("published %d, delivered %d, commands %d, replied %d, duplicates %d: want each once, every copy a duplicate (%d)",
				pub, del, cmd, rep, rec.count(Duplicate), pub+cmd)
		}
	})
}

// kindErr is a failure with a kind, as transports label theirs.
type kindErr string

func (k kindErr) Error() string { return string(k) }
func (k kindErr) Kind() string  { return string(k) }

func TestEngineCommandsFailedByTheBackendCloseAsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBroker(time.Millisecond)
		b.failCmds = kindErr("coap_4_05")
		p := meterPlan(10, time.Second, 5*time.Second, 1)
		p.Groups[0].Commands = &Exchange{Every: time.Second, Topic: MustTemplate("c/{{id}}"),
			ReplyTopic: MustTemplate("r/{{id}}"), Payload: MustTemplate("{{track}}"), QoS: 1}
		start := time.Now()
		rec := run(t, p, b, t.Context())
		cmd, rep := rec.count(CommandSent), rec.count(CommandReplied)
		failed := rec.countIf(func(e Event) bool { return e.Kind == PublishFailed && e.Err == "command_coap_4_05" })
		if cmd < 40 || rep != 0 || failed != cmd {
			t.Errorf("commands %d, replied %d, failed as command_coap_4_05 %d: want every command failed once", cmd, rep, failed)
		}
		if took := time.Since(start); took >= p.Duration+p.Drain {
			t.Errorf("the run took %v: it waited out its drain for replies to commands that had failed", took)
		}
	})
}
