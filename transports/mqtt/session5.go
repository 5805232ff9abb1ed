package mqtt

import (
	"fmt"
	"slices"
)

// ReasonHandler is an optional Handler capability for MQTT 5 sessions:
// AckReason replaces Acked for an acknowledgement (PUBACK, PUBCOMP, or a
// refusing PUBREC) that carries a reason code other than success. A code
// of 0x80 or above (err.Failed()) means the broker refused the message;
// below, it took it and says something (0x10, no matching subscribers).
// Without it, such acknowledgements go to Acked.
type ReasonHandler interface {
	AckReason(id uint16, err ReasonCodeError)
}

// Protocol versions for Options.ProtocolVersion.
const (
	V311 byte = 4 // MQTT 3.1.1
	V5   byte = 5 // MQTT 5
)

// v5State is what an MQTT 5 session adds to a 3.1.1 one; a 3.1.1 session
// has none, so it costs 3.1.1 devices one nil pointer.
type v5State struct {
	props  []byte // publishProps: shared by every PUBLISH, never modified
	inMax  uint16 // the Topic Alias Maximum this client advertised
	ours   uint16 // V5Options.TopicAliases
	maxQoS byte   // the broker's Maximum QoS

	// Guarded by Session.wmu: aliases are assigned, and the send quota
	// taken, when a packet goes to the socket (or its backlog), in the
	// order the broker reads them.
	aliasMax  uint16   // aliases this client may assign: min(ours, the broker's)
	aliases   []string // outgoing: aliases[i] is alias i+1's topic
	quota     int      // the broker's Receive Maximum
	inflight  int      // QoS 1 and 2 publishes sent and not yet finished
	held      [][]byte // QoS 1 and 2 publishes waiting for quota, oldest first
	heldBytes int

	// Owned by the reading goroutine.
	inAliases map[uint16][]byte // incoming: topic by alias
}

func newV5State(o *V5Options) *v5State {
	return &v5State{props: publishProps(o), inMax: o.TopicAliases, ours: o.TopicAliases, maxQoS: 2, quota: 0xffff}
}

// connack takes the broker's limits from its CONNACK.
func (v *v5State) connack(pr *props5) {
	v.quota = 0xffff
	if pr.receiveMax > 0 {
		v.quota = int(pr.receiveMax)
	}
	v.aliasMax = min(v.ours, pr.aliasMax)
	v.maxQoS = pr.maxQoS
}

// alias returns topic's outgoing alias, and whether it is new (the
// PUBLISH must carry the topic too); 0 when it has none and gets none.
func (v *v5State) alias(topic string) (uint16, bool) {
	if v.aliasMax == 0 {
		return 0, false
	}
	if i := slices.Index(v.aliases, topic); i >= 0 {
		return uint16(i + 1), false
	}
	if len(v.aliases) < int(v.aliasMax) {
		return uint16(len(v.aliases) + 1), true
	}
	return 0, false
}

// publish5 sends an MQTT 5 PUBLISH. A QoS 1 or 2 message beyond the
// broker's Receive Maximum waits in the session until an acknowledgement
// frees quota; the held messages count against Options.SendBuffer.
func (s *Session) publish5(id uint16, topic string, payload []byte, qos byte, retain bool) error {
	v := s.v5
	if err := checkPublish5(id, topic, payload, qos, v.props); err != nil {
		return err
	}
	if qos > v.maxQoS {
		return fmt.Errorf("%w: qos %d above the broker's maximum %d", ErrInvalid, qos, v.maxQoS)
	}
	bp := outPool.Get().(*[]byte)
	defer putBuf(bp)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if qos > 0 && (v.inflight >= v.quota || len(v.held) > 0) {
		// Held packets carry their topic: they go out after packets that
		// may not exist yet, so they cannot lean on an alias.
		return s.holdLocked(appendPublish5(nil, id, topic, 0, v.props, payload, qos, retain))
	}
	alias, fresh := v.alias(topic)
	name := topic
	if alias != 0 && !fresh {
		name = ""
	}
	*bp = appendPublish5(*bp, id, name, alias, v.props, payload, qos, retain)
	if err := s.sendLocked(*bp, true); err != nil {
		return err
	}
	if fresh {
		v.aliases = append(v.aliases, topic)
	}
	if qos > 0 {
		v.inflight++
	}
	return nil
}

// holdLocked keeps an encoded PUBLISH until quota frees. s.wmu must be
// held.
func (s *Session) holdLocked(b []byte) error {
	v := s.v5
	if s.werr != nil {
		return s.werr
	}
	waiting := v.heldBytes
	if s.bl != nil {
		waiting += s.bl.size()
	}
	if waiting+len(b) > s.sendBuf {
		return SendBufferFullError{Buffered: waiting, Packet: len(b), Limit: s.sendBuf}
	}
	v.held = append(v.held, b)
	v.heldBytes += len(b)
	return nil
}

// release returns the quota of a finished QoS 1 or 2 publish, and sends
// the held ones it makes room for.
func (s *Session) release() error {
	v := s.v5
	s.wmu.Lock()
	defer s.wmu.Unlock()
	v.inflight = max(0, v.inflight-1)
	for len(v.held) > 0 && v.inflight < v.quota {
		b := v.held[0]
		v.held[0] = nil
		v.held = v.held[1:]
		v.heldBytes -= len(b)
		if err := s.sendLocked(b, false); err != nil {
			return err
		}
		v.inflight++
	}
	if len(v.held) == 0 {
		v.held = nil
	}
	return nil
}

// acked5 finishes an MQTT 5 QoS 1 or 2 publish: PUBACK, PUBCOMP, or a
// PUBREC refusing it.
func (s *Session) acked5(p *packet) error {
	if err := s.release(); err != nil {
		return err
	}
	s.inCall.Store(true)
	defer s.inCall.Store(false)
	// 0x01 and 0x02 are no PUBACK codes, but mochi 2.7.9 acknowledges
	// every QoS 1 message with 0x01 ("granted qos 1"): success.
	if rh, ok := s.h.(ReasonHandler); ok && p.code > 0x02 {
		rh.AckReason(p.id, ReasonCodeError{Packet: p.typ, Code: p.code, Reason: string(p.props.reason)})
		return nil
	}
	s.h.Acked(p.id)
	return nil
}

// resolveAlias applies an inbound PUBLISH's topic alias: a topic with an
// alias sets it, an empty topic takes the one it names.
func (s *Session) resolveAlias(p *packet) error {
	a := p.props.alias
	if a == 0 {
		return nil
	}
	v := s.v5
	if a > v.inMax {
		return protoErr(typePublish, "topic alias %d above the maximum of %d", a, v.inMax)
	}
	if len(p.topic) > 0 {
		if v.inAliases == nil {
			v.inAliases = make(map[uint16][]byte)
		}
		v.inAliases[a] = append(v.inAliases[a][:0], p.topic...)
		return nil
	}
	t, ok := v.inAliases[a]
	if !ok {
		return protoErr(typePublish, "topic alias %d was never set", a)
	}
	p.topic = t
	return nil
}

// disconnected is why a server's DISCONNECT ends the session: for MQTT 5,
// its reason code too.
func (s *Session) disconnected(p *packet) error {
	if s.v5 == nil {
		return ErrServerDisconnect
	}
	return fmt.Errorf("%w: %w", ErrServerDisconnect,
		ReasonCodeError{Packet: typeDisconnect, Code: p.code, Reason: string(p.props.reason)})
}

// check validates what Connect cannot send.
func (o *Options) check() error {
	switch o.ProtocolVersion {
	case V311:
	case V5:
		if err := o.V5.check(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: protocol version %d (want 4 for 3.1.1 or 5)", ErrInvalid, o.ProtocolVersion)
	}
	return checkSubscriptions(o.Subscribe)
}

// decode parses a packet of the session's protocol version.
func (s *Session) decode(first byte, body []byte) (packet, error) {
	if s.v5 != nil {
		return decode5(first, body)
	}
	return decode(first, body)
}

// subscribePacket encodes a SUBSCRIBE of the session's protocol version.
func (s *Session) subscribePacket(id uint16, subs []Subscription, prefix string) []byte {
	if s.v5 != nil {
		return subscribePacket5(id, subs, prefix)
	}
	return subscribePacket(id, subs, prefix)
}
