package scenarios

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/m2msim/m2msim/sim"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
)

// brokerTLS is what the run needs for MQTT over TLS: each group's
// prepared tls block (its own or the target's), the backend's, and the
// run's throwaway CA.
type brokerTLS struct {
	s       *Scenario
	groups  []*tlsGroup // by group index; nil for plain MQTT and other protocols
	backend *tlsGroup
	ca      lazyCA
}

// prepareTLS readies the tls blocks of an MQTT-over-TLS scenario; it
// returns nil when the broker speaks plain MQTT.
func prepareTLS(s *Scenario) (*brokerTLS, error) {
	if !s.Target.Secure() || s.Target.TLS == nil {
		return nil, nil
	}
	b := &brokerTLS{s: s, groups: make([]*tlsGroup, len(s.Groups))}
	n := s.Devices()
	target, err := s.Target.TLS.prepare(n, &b.ca, s.deviceVars)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	b.backend = target
	for i := range s.Groups {
		g := &s.Groups[i]
		switch {
		case g.IsCoAP() || g.IsLwM2M() || g.IsHTTP() || g.IsWebSocket():
		case g.TLS == nil:
			b.groups[i] = target
		default:
			if b.groups[i], err = g.TLS.prepare(n, &b.ca, s.deviceVars); err != nil {
				return nil, fmt.Errorf("groups[%d]: %w", i, err)
			}
		}
	}
	b.backendCertificate()
	return b, nil
}

// backendCertificate gives the backend a client certificate when the
// target's block has none but a group's CA issues them: a broker that
// asks devices for certificates asks the backend too.
func (b *brokerTLS) backendCertificate() {
	if b.backend.clientCA != nil || b.backend.cfg.Cert != nil {
		return
	}
	for _, g := range b.groups {
		if g != nil && g.clientCA != nil {
			cp := *b.backend
			cp.clientCA = g.clientCA
			b.backend = &cp
			return
		}
	}
}

// options returns the dial.TLS options of a connection of fleet device
// dev, reporting its handshake to h.
func (b *brokerTLS) options(dev int, h sim.Handler) dial.TLSOptions {
	gi, _ := b.s.groupIndex(dev)
	return b.groups[gi].options(dev, h)
}

// config returns fleet device dev's TLS configuration, the backend's for
// an index out of the fleet (-1).
func (b *brokerTLS) config(dev int) *tls.Config {
	if dev < 0 || dev >= b.s.Devices() {
		return b.backend.config(dev)
	}
	gi, _ := b.s.groupIndex(dev)
	return b.groups[gi].config(dev)
}

// startBroker starts the embedded broker with o's listeners: its MQTT one
// in plain TCP when b is nil.
func startBroker(b *brokerTLS, o broker.Options, log *slog.Logger) (*broker.Broker, error) {
	if b == nil {
		return broker.StartWith(o, log)
	}
	return b.startBroker(o, log)
}

// startBroker starts the embedded broker with a TLS listener: its
// certificate is issued by the run's throwaway CA, which every block
// then trusts, and it verifies client certificates against the blocks'
// client CAs (requiring one when every block issues them).
func (b *brokerTLS) startBroker(o broker.Options, log *slog.Logger) (*broker.Broker, error) {
	ca, err := b.ca.get()
	if err != nil {
		return nil, fmt.Errorf("embedded broker tls: %w", err)
	}
	host, _, _ := net.SplitHostPort(o.Addr) // the wire's server address, under the wire
	cert, err := ca.IssueServer("127.0.0.1", "localhost", host)
	if err != nil {
		return nil, fmt.Errorf("embedded broker tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert}
	for _, g := range append([]*tlsGroup{b.backend}, b.groups...) {
		if g == nil {
			continue
		}
		if g.roots == nil {
			g.roots = ca.Pool()
		}
		switch {
		case g.clientCA == nil:
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		case cfg.ClientCAs == nil:
			cfg.ClientCAs = g.clientCA.Pool()
		default:
			cfg.ClientCAs.AddCert(g.clientCA.Certificate())
		}
	}
	o.TLS = cfg
	return broker.StartWith(o, log)
}

// deviceVars names fleet device dev as the engine does (its client ID
// as ID); any other index is the backend, named m2msim-backend-<name>.
func (s *Scenario) deviceVars(dev int) sim.Vars {
	if dev < 0 || dev >= s.Devices() {
		return sim.Vars{ID: "m2msim-backend-" + s.Name, Index: -1, Device: -1}
	}
	gi, base := s.groupIndex(dev)
	g := &s.Groups[gi]
	v := sim.Vars{Index: dev - base, Device: dev, Group: g.Name}
	v.ID = g.ClientID.Render(&v)
	return v
}
