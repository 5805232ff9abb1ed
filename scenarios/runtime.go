package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/m2msim/m2msim/sim"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/broker"
	"github.com/m2msim/m2msim/transports/netem"
)

// Runtime is a scenario's live targets: the embedded broker when the
// scenario asks for one, and the connector (MQTT or CoAP, by group) and
// backend the engine drives.
type Runtime struct {
	Connector sim.Connector
	Receiver  sim.Receiver
	Sender    sim.Sender
	// Addr is the broker's host:port, or the URL devices dial when they
	// speak MQTT over WebSocket; empty when no group speaks MQTT.
	Addr string
	// WebSocketURL is the embedded broker's WebSocket listener when some
	// groups reach it there and Addr is its TCP one.
	WebSocketURL string
	// CoAPAddr is the embedded CoAP server's host:port, when it runs.
	CoAPAddr string
	// LwM2MAddr is the embedded LwM2M server's host:port, when it runs.
	LwM2MAddr string
	// EndpointAddr is m2msim's HTTP endpoint's host:port, when it runs.
	EndpointAddr string
	// Sources is the number of local source addresses devices dial from.
	Sources int
	// BackendConnections is how many connections the backend opened.
	BackendConnections int

	broker     *broker.Broker
	backend    *mqtt.Backend
	coapServer *coapserver.Server
	lwm2m      *lwm2mBackend
	lwm2mConn  *lwm2mConnector
	endpoint   *endpoint.Endpoint
	web        *webConnector
	shaper     *netem.Shaper
	wire       *wireRun           // link.engine: wire or kernel; nil otherwise
	part       sim.Part           // the shard this runtime serves
	stop       context.CancelFunc // ends the shaper's Run
	done       chan error         // the shaper's Run result
}

// sourcesPerAddress is how many connections one source address is given
// before the pool grows: below the 28,232 ephemeral ports Linux offers
// per address by default, with room for the backend and retries.
const sourcesPerAddress = 25000

// Open starts what s targets: the embedded broker if asked, a backend
// connection, and a connector for the devices, whose connections go
// through their group's shaped link (seeded from seed and the device).
// Credentials are read from the environment variables the scenario names,
// here and nowhere else. A nil log discards.
func Open(ctx context.Context, s *Scenario, seed uint64, log *slog.Logger) (*Runtime, error) {
	return OpenShard(ctx, s, seed, sim.Part{}, log)
}

// OpenShard is Open for one shard of a fleet run over several processes:
// the backend's client IDs carry the shard, so the shards' backends do not
// take each other's sessions over at a shared broker.
func OpenShard(ctx context.Context, s *Scenario, seed uint64, part sim.Part, log *slog.Logger) (*Runtime, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	user, pass, err := credentials(s.Target)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{part: part}
	var d dial.Func
	byDevice := func(int) dial.Func { return d }
	if s.Wire() {
		if rt.wire, err = openWire(ctx, s, seed, log); err != nil {
			return nil, err
		}
		d = rt.wire.w.ServerDialer() // the backend is no device: unshaped, inside
	} else if s.Target.Loopback() || loopback(s.Target.CoAPAddr()) || s.Target.CoAPEmbedded() ||
		s.Target.LwM2MEmbedded() || loopback(s.Target.LwM2MAddr()) || s.Target.webLoopback() {
		rt.Sources = s.Target.SourceAddresses
		if rt.Sources == 0 {
			rt.Sources = (s.Devices() + sourcesPerAddress - 1) / sourcesPerAddress
		}
		pool := dial.LoopbackSources(rt.Sources)
		d, byDevice = dial.SourcePool(pool), dial.SourceByDevice(pool)
	}
	var shaped func(device int, conn uint64) dial.Func
	if rt.wire != nil {
		shaped = rt.wire.dialer // shaped by the wire: no second shaping in the socket
	} else {
		shaped = rt.shape(s, byDevice, seed)
	}
	var mq *connector
	if s.Speaks(ProtocolMQTT) {
		if mq, err = rt.openMQTT(ctx, s, d, user, pass, log); err != nil {
			rt.Close()
			return nil, err
		}
		mq.dial, mq.s = shaped, s
	}
	co := &coapConnector{addr: s.Target.CoAPAddr(), seed: seed, dial: shaped, group: s.groupOf, s: s,
		dtls: make([]*dtlsGroup, len(s.Groups))}
	for i := range s.Groups {
		if d := s.Groups[i].DTLS; d != nil {
			if co.dtls[i], err = d.prepare(); err != nil {
				rt.Close()
				return nil, fmt.Errorf("groups[%d]: %w", i, err)
			}
		}
	}
	if s.Speaks(ProtocolCoAP) && s.Target.CoAPEmbedded() {
		if err := rt.openCoAP(s, co.dtls, log); err != nil {
			rt.Close()
			return nil, err
		}
		co.addr, co.secureAddr, co.server = rt.coapServer.Addr(), rt.coapServer.SecureAddr(), rt.coapServer
	}
	lw := &lwm2mConnector{addr: s.Target.LwM2MAddr(), seed: seed, dial: shaped, group: s.groupOf, origin: time.Now(),
		s: s, dtls: co.dtls}
	if s.Speaks(ProtocolLwM2M) && s.Target.LwM2MEmbedded() {
		if err := rt.openLwM2M(s, seed, co.dtls, log); err != nil {
			rt.Close()
			return nil, err
		}
		lw.addr, lw.secureAddr, lw.campaign = rt.LwM2MAddr, rt.lwm2m.srv.SecureAddr(), rt.lwm2m.since
	}
	rt.lwm2mConn = lw
	rt.web = newWebConnector(s, shaped)
	if rt.web.tls, err = webTLS(s); err != nil {
		rt.Close()
		return nil, err
	}
	if s.Endpoint() {
		if err := rt.openEndpoint(s, rt.web, log); err != nil {
			rt.Close()
			return nil, err
		}
	}
	rt.Connector = &router{s: s, mqtt: mq, coap: co, lwm2m: lw, web: rt.web}
	if rt.wire != nil {
		rt.Connector = &wireConnector{next: rt.Connector, wr: rt.wire}
	}
	if rt.backend != nil || rt.coapServer != nil || rt.lwm2m != nil || rt.endpoint != nil {
		b := &backends{s: s, mqtt: rt.backend, coap: rt.coapServer, lwm2m: rt.lwm2m, endpoint: rt.endpoint}
		rt.Receiver, rt.Sender = b, b
	}
	return rt, nil
}

// openCoAP starts the embedded CoAP server, sized for the fleet: each
// device may hold a resource per flow (reports, commands, replies). When
// groups speak DTLS it listens for DTLS too, with their key.
func (rt *Runtime) openCoAP(s *Scenario, dtls []*dtlsGroup, log *slog.Logger) error {
	n, secure := 0, 0
	for i := range s.Groups {
		if s.Groups[i].IsCoAP() {
			n += s.Groups[i].Count
		}
		if s.Groups[i].IsCoAP() && s.Groups[i].DTLS != nil {
			secure += s.Groups[i].Count
		}
	}
	cfg := coapserver.Config{MaxResources: 4*n + 1024, MaxObservers: 2*n + 1024, MaxBytes: 1 << 30}
	if secure > 0 {
		key, err := sharedKey(s, dtls, ProtocolCoAP)
		if err != nil {
			return err
		}
		cfg.DTLS = &coapserver.DTLSConfig{Key: key, MaxSessions: secure + 1024,
			// Over a slow link a handshake holds its slot for seconds: let the
			// whole fleet handshake at once, as a real server farm would.
			MaxHandshakes: min(secure, 4096)}
	}
	var srv *coapserver.Server
	err := rt.inServer(func() (err error) {
		srv, err = coapserver.StartConfig(net.JoinHostPort(s.listenHost(), "0"), log, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("start embedded CoAP server: %w", err)
	}
	rt.coapServer, rt.CoAPAddr = srv, srv.Addr()
	return nil
}

// openMQTT starts the embedded broker if the scenario asks for it and
// connects the backend.
func (rt *Runtime) openMQTT(ctx context.Context, s *Scenario, d dial.Func, user, pass string, log *slog.Logger) (*connector, error) {
	rt.Addr = s.Target.Addr()
	sec, err := prepareTLS(s)
	if err != nil {
		return nil, err
	}
	if s.Target.Embedded() {
		var b *broker.Broker
		err := rt.inServer(func() (err error) {
			b, err = startBroker(sec, brokerOptions(s, s.listenHost()), log)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("start embedded broker: %w", err)
		}
		rt.broker, rt.Addr = b, b.Addr()
	}
	o := mqtt.Options{Addr: rt.Addr, Dial: d, Username: user, Password: pass, CleanSession: true}
	o.ClientID = "m2msim-backend-" + s.Name
	if !rt.part.Whole() {
		o.ClientID += fmt.Sprintf("-shard-%d", rt.part.Index)
	}
	w := wsDevicesFor(s, s.Target.Broker, rt.broker)
	if w != nil && w.tls == nil && sec != nil {
		w.tls = sec.config // wss://: TLS inside the WebSocket's dial, as the tls blocks say
	}
	switch {
	case w != nil && rt.broker == nil:
		o.Addr, o.Dial = w.url, w.over(-1, d)
	case sec != nil:
		o.Dial = dial.TLS(d, sec.backend.options(-1, nil))
	}
	s.backendMQTT(&o)
	rt.backend, err = mqtt.DialBackend(ctx, mqtt.BackendOptions{Options: o, Connections: s.BackendConnections()}, log)
	if err != nil {
		return nil, fmt.Errorf("backend connection to %s: %w", o.Addr, err)
	}
	rt.BackendConnections = rt.backend.Connections()
	c := &connector{base: o, routes: rt.mqttRoutes(s, sec)}
	if w != nil {
		rt.Addr = w.url
	} else if rt.broker != nil {
		rt.WebSocketURL = rt.broker.WebSocketURL()
	}
	return c, nil
}

// mqttRoutes says, by group, where each MQTT group's devices connect and
// over what: target.broker, or the group's own mqtt.broker (such as the
// embedded broker's WebSocket listener beside a fleet on TCP).
func (rt *Runtime) mqttRoutes(s *Scenario, sec *brokerTLS) []mqttRoute {
	routes := make([]mqttRoute, len(s.Groups))
	for i := range s.Groups {
		if s.Groups[i].Protocol != ProtocolMQTT {
			continue
		}
		b := s.groupBroker(i)
		if w := wsDevicesFor(s, b, rt.broker); w != nil {
			if w.tls == nil && sec != nil && b != brokerEmbeddedWS {
				w.tls = sec.config
			}
			routes[i] = mqttRoute{addr: w.url, ws: w}
			continue
		}
		r := mqttRoute{addr: rt.Addr, tls: sec}
		if b != brokerEmbedded && b != s.Target.Broker {
			r.addr = Target{Broker: b}.Addr()
		}
		routes[i] = r
	}
	return routes
}

// loopback reports whether host:port is on a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// Speaks reports whether any group speaks protocol p.
func (s *Scenario) Speaks(p string) bool {
	for i := range s.Groups {
		if s.Groups[i].Protocol == p {
			return true
		}
	}
	return false
}

// groupIndex returns the index of fleet device dev's group, and the
// fleet index of that group's first device.
func (s *Scenario) groupIndex(dev int) (int, int) {
	base := 0
	for i := range s.Groups {
		if dev < base+s.Groups[i].Count {
			return i, base
		}
		base += s.Groups[i].Count
	}
	return len(s.Groups) - 1, base - s.Groups[len(s.Groups)-1].Count
}

// groupOf returns the group of fleet device dev.
func (s *Scenario) groupOf(dev int) *Group {
	for i := range s.Groups {
		if dev < s.Groups[i].Count {
			return &s.Groups[i]
		}
		dev -= s.Groups[i].Count
	}
	return &s.Groups[len(s.Groups)-1]
}

// router sends each device's connect to its group's protocol.
type router struct {
	s     *Scenario
	mqtt  *connector
	coap  *coapConnector
	lwm2m *lwm2mConnector
	web   *webConnector
}

func (r *router) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	if r.s.groupOf(spec.Device).speaksWeb() {
		return r.web.Connect(ctx, spec, h)
	}
	if r.s.groupOf(spec.Device).IsLwM2M() {
		return r.lwm2m.Connect(ctx, spec, h)
	}
	if r.s.groupOf(spec.Device).IsCoAP() {
		return r.coap.Connect(ctx, spec, h)
	}
	return r.mqtt.Connect(ctx, spec, h)
}

// shape returns the per-device dialer: through the group's link where the
// group has one, else d. It starts the fleet's shaper when one is needed.
func (rt *Runtime) shape(s *Scenario, byDevice func(int) dial.Func, seed uint64) func(device int, conn uint64) dial.Func {
	var nd net.Dialer
	base := func(device int) dial.Func {
		if d := byDevice(device); d != nil {
			return d
		}
		return nd.DialContext
	}
	type span struct {
		end    int
		link   netem.Link
		shaped bool
	}
	var spans []span
	end, shapedAny := 0, false
	for i := range s.Groups {
		end += s.Groups[i].Count
		l, ok := s.Groups[i].Shaped()
		spans = append(spans, span{end, l, ok})
		shapedAny = shapedAny || ok
	}
	if !shapedAny {
		return func(device int, _ uint64) dial.Func { return base(device) }
	}
	rt.shaper = netem.NewShaper(runtime.GOMAXPROCS(0))
	ctx, stop := context.WithCancel(context.Background())
	rt.stop, rt.done = stop, make(chan error, 1)
	go func() { rt.done <- rt.shaper.Run(ctx) }()
	return func(device int, conn uint64) dial.Func {
		for _, sp := range spans {
			if device < sp.end {
				if !sp.shaped {
					return base(device)
				}
				return rt.shaper.DialerFor(base(device), sp.link, seed, device, conn)
			}
		}
		return base(device)
	}
}

// Close disconnects the backend, stops the shaper and the embedded
// broker.
func (rt *Runtime) Close() error {
	var errs []error
	if rt.lwm2mConn != nil {
		rt.lwm2mConn.wait() // the devices' De-registers, over their links, before their server goes
	}
	if rt.backend != nil {
		errs = append(errs, rt.backend.Close())
	}
	if rt.stop != nil {
		rt.stop()
		if err := <-rt.done; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	if rt.broker != nil {
		errs = append(errs, rt.broker.Close())
	}
	if rt.coapServer != nil {
		errs = append(errs, rt.coapServer.Close())
	}
	if rt.lwm2m != nil {
		errs = append(errs, rt.lwm2m.close())
	}
	if rt.endpoint != nil {
		errs = append(errs, rt.endpoint.Close())
	}
	if rt.wire != nil {
		errs = append(errs, rt.wire.close())
	}
	return errors.Join(errs...)
}

// ErrCredentials is returned by Open when a credential variable the
// scenario names is not set.
var ErrCredentials = errors.New("credentials variable not set")

func credentials(t Target) (user, pass string, err error) {
	get := func(name string) (string, error) {
		if name == "" {
			return "", nil
		}
		v, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("target names $%s: %w", name, ErrCredentials)
		}
		return v, nil
	}
	if user, err = get(t.UsernameEnv); err != nil {
		return "", "", err
	}
	pass, err = get(t.PasswordEnv)
	return user, pass, err
}

func mqttSubs(subs []sim.Subscription) []mqtt.Subscription {
	out := make([]mqtt.Subscription, len(subs))
	for i, s := range subs {
		out[i] = mqtt.Subscription{Topic: s.Topic, QoS: s.QoS}
	}
	return out
}

// connector adapts mqtt sessions to sim.Connector, dialing each device
// through its own link to its group's broker.
type connector struct {
	base   mqtt.Options
	dial   func(device int, conn uint64) dial.Func
	routes []mqttRoute // by group
	s      *Scenario   // for each group's MQTT version and properties
}

// mqttRoute is how a group's devices reach the broker.
type mqttRoute struct {
	addr string
	tls  *brokerTLS // nil for plain MQTT, and over WebSocket (ws holds it)
	ws   *wsDevices // nil: MQTT over TCP
}

func (c *connector) Connect(ctx context.Context, spec sim.ConnectSpec, h sim.Handler) (sim.Session, error) {
	o := c.base
	gi, _ := c.s.groupIndex(spec.Device)
	r := c.routes[gi]
	o.Addr = r.addr
	o.Dial = c.dial(spec.Device, spec.Conn)
	switch {
	case r.ws != nil:
		o.Dial = r.ws.over(spec.Device, o.Dial)
	case r.tls != nil:
		o.Dial = dial.TLS(o.Dial, r.tls.options(spec.Device, h))
	}
	o.ClientID = spec.ClientID
	o.KeepAlive = spec.Connect.KeepAlive
	o.CleanSession = spec.Connect.CleanSession
	o.Timeout = spec.Connect.Timeout
	o.Subscribe = mqttSubs(spec.Subscribe)
	c.s.mqttOptions(&o, &spec)
	ms := &mqttSession{h: h}
	s, err := mqtt.Connect(ctx, o, ms)
	if err != nil {
		countReason(h, err)
		return nil, err
	}
	ms.s = s
	return ms, nil
}

// backends plays the backend for every group, each through its own
// protocol's: the MQTT backend connections, or the embedded CoAP server,
// which sees what CoAP devices send and changes the resources they
// observe.
type backends struct {
	s     *Scenario
	mqtt  *mqtt.Backend      // nil when no group speaks MQTT
	coap  *coapserver.Server // nil unless CoAP groups target it
	lwm2m *lwm2mBackend      // nil unless LwM2M groups target the embedded server
	// endpoint is m2msim's HTTP endpoint, nil unless it runs.
	endpoint *endpoint.Endpoint
}

// Subscribe subscribes the MQTT backend to the MQTT groups' filters, and
// takes every update the CoAP server sees: the engine tells them apart by
// their measurement tokens.
func (b *backends) Subscribe(ctx context.Context, subs []sim.Subscription, deliver func(sim.Delivery)) error {
	var mq []sim.Subscription
	for _, sub := range subs {
		if g := &b.s.Groups[sub.Group]; !g.IsCoAP() && !g.IsLwM2M() && !g.speaksWeb() {
			mq = append(mq, sub)
		}
	}
	if b.lwm2m != nil {
		b.lwm2m.subscribe(deliver)
	}
	if b.endpoint != nil {
		b.endpoint.OnDeliver(func(path string, payload []byte, arrived time.Time) {
			deliver(sim.Delivery{Topic: path, Payload: payload, Arrived: arrived})
		})
	}
	if b.coap != nil {
		b.coap.OnUpdate(func(path string, payload []byte, _ net.Addr, arrived time.Time) {
			deliver(sim.Delivery{Topic: path, Payload: payload, Arrived: arrived})
		})
	}
	if len(mq) == 0 || b.mqtt == nil {
		return nil
	}
	return b.mqtt.Subscribe(ctx, mqttSubs(mq), func(topic string, payload []byte, arrived time.Time) {
		deliver(sim.Delivery{Topic: topic, Payload: payload, Arrived: arrived})
	})
}

// Publish sends a command or an answer through the device's protocol: a
// CoAP device's command changes the resource it observes.
func (b *backends) Publish(ctx context.Context, m sim.Outbound) error {
	if b.s.Groups[m.Group].IsLwM2M() {
		if b.lwm2m == nil {
			return errors.New("no LwM2M backend: commands need target.lwm2m: embedded")
		}
		return b.lwm2m.publish(ctx, m)
	}
	if b.s.Groups[m.Group].speaksWeb() {
		if b.endpoint == nil {
			return errors.New("no HTTP endpoint: commands need target.http or target.websocket: embedded, or backend.listen")
		}
		return b.endpoint.Push(m.Topic, m.Payload)
	}
	if b.s.Groups[m.Group].IsCoAP() {
		if b.coap == nil {
			return errors.New("no CoAP backend: commands need target.coap: embedded")
		}
		return b.coap.Put(m.Topic, m.Payload)
	}
	if b.mqtt == nil {
		return errors.New("no MQTT backend")
	}
	return b.mqtt.Publish(ctx, m.Topic, m.Payload, m.QoS)
}
