package scenarios

import (
	"sync"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/mqtt"
)

// mqttSession binds an MQTT session to the engine: it maps the engine's
// message references to packet ids and back, and is the session's
// handler, passing what it receives on to the engine's.
type mqttSession struct {
	s *mqtt.Session // set once Connect returns, before the first Send
	h sim.Handler

	mu   sync.Mutex // guards pids
	pids pidTable
}

// Send publishes m, under a packet id of its own when it is acknowledged.
func (m *mqttSession) Send(msg sim.Message) error {
	var pid uint16
	if msg.Ref != 0 {
		m.mu.Lock()
		pid = m.pids.add(msg.Ref)
		m.mu.Unlock()
	}
	err := m.s.Publish(pid, msg.Dest, msg.Payload, msg.QoS, msg.Retain)
	if err != nil && pid != 0 {
		m.mu.Lock()
		m.pids.take(pid)
		m.mu.Unlock()
	}
	return err
}

// Ping sends a PINGREQ.
func (m *mqttSession) Ping() error { return m.s.Ping() }

// Close disconnects.
func (m *mqttSession) Close() error { return m.s.Close() }

// Acked maps a PUBACK's or PUBCOMP's packet id back to its reference.
func (m *mqttSession) Acked(pid uint16) {
	m.mu.Lock()
	ref, ok := m.pids.take(pid)
	m.mu.Unlock()
	if ok {
		m.h.Acked(ref)
	}
}

// Message passes an inbound publish on.
func (m *mqttSession) Message(topic string, payload []byte) { m.h.Message(topic, payload) }

// Lost passes the end of the connection on, counting an MQTT 5
// DISCONNECT's reason code.
func (m *mqttSession) Lost(err error) {
	countReason(m.h, err)
	m.h.Lost(err)
}

// pidTable holds the packet ids of one session's unacknowledged
// publishes. The engine bounds those to a few dozen, so a list scanned
// in place costs less than a map.
type pidTable struct {
	next uint16
	live []pidRef
}

type pidRef struct {
	pid uint16
	ref sim.Ref
}

// add gives ref the next packet id not in use: ids run in sequence,
// skipping 0 and those still unacknowledged. Fewer than 65,535 must be
// in use.
func (t *pidTable) add(ref sim.Ref) uint16 {
	for {
		t.next++
		if t.next != 0 && !t.inUse(t.next) {
			t.live = append(t.live, pidRef{pid: t.next, ref: ref})
			return t.next
		}
	}
}

func (t *pidTable) inUse(pid uint16) bool {
	for _, p := range t.live {
		if p.pid == pid {
			return true
		}
	}
	return false
}

// take frees pid and returns the reference it carried.
func (t *pidTable) take(pid uint16) (sim.Ref, bool) {
	for i, p := range t.live {
		if p.pid == pid {
			last := len(t.live) - 1
			t.live[i] = t.live[last]
			t.live = t.live[:last]
			return p.ref, true
		}
	}
	return 0, false
}
