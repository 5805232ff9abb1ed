package mqtt_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/mqtt/mqtttest"
	"github.com/m2msim/m2msim/transports/pki"
)

// stormDevices is the fleet that reconnects at once.
const stormDevices = 1000

// pacedWorkers bounds the connects in flight in the paced storm, below
// Mosquitto's listen backlog of 100, so no SYN or ClientHello waits for
// a retransmission and the handshakes' own cost shows.
const pacedWorkers = 64

// BenchmarkTLSReconnectStorm prices a reconnect storm over TLS: 1,000
// devices, each with its own client certificate, connected once to a
// Mosquitto that requires one, reconnect all at once (one round per
// iteration), with and without session resumption; "burst" starts all
// 1,000 at once, "paced" keeps 64 in flight. It reports the TLS
// handshake's p50 and p99 (from ClientHello to Finished, so the listen
// backlog's SYN retries are left out), the whole connect's p99 (to
// CONNACK), and the CPU the broker and this process spend per
// reconnect.
func BenchmarkTLSReconnectStorm(b *testing.B) {
	ca, err := pki.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	m := mqtttest.StartMosquitto(b, mqtttest.WithTLS(mqtttest.TLS{CA: ca, RequireCertificate: true}),
		mqtttest.WithConfig("max_connections -1"))
	certs := make([]tls.Certificate, stormDevices)
	for i := range certs {
		if certs[i], err = ca.Issue(fmt.Sprintf("dev-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		resume  bool
		workers int
	}{{"burst/resumption=false", false, stormDevices}, {"burst/resumption=true", true, stormDevices},
		{"paced/resumption=false", false, pacedWorkers}, {"paced/resumption=true", true, pacedWorkers}} {
		b.Run(c.name, func(b *testing.B) {
			st := newStorm(ca, m.Addr(), certs, c.resume, c.workers)
			if err := st.round(b.Context()); err != nil { // the first connects, which fill the session caches
				b.Fatal(err)
			}
			var hs, conn []time.Duration
			var resumed int
			var brokerCPU, selfCPU time.Duration
			b.ResetTimer()
			for range b.N {
				st.reset()
				bc, sc := procCPU(b, m.PID()), procCPU(b, os.Getpid())
				if err := st.round(b.Context()); err != nil {
					b.Fatal(err)
				}
				brokerCPU += procCPU(b, m.PID()) - bc
				selfCPU += procCPU(b, os.Getpid()) - sc
				hs, conn, resumed = append(hs, st.handshakes...), append(conn, st.connects...), resumed+st.resumed
			}
			n := float64(b.N * stormDevices)
			b.ReportMetric(quantile(hs, 0.5).Seconds()*1e3, "hs-p50-ms")
			b.ReportMetric(quantile(hs, 0.99).Seconds()*1e3, "hs-p99-ms")
			b.ReportMetric(quantile(conn, 0.99).Seconds()*1e3, "connect-p99-ms")
			b.ReportMetric(float64(resumed)/n, "resumed/conn")
			b.ReportMetric(float64(brokerCPU.Microseconds())/n, "broker-cpu-µs/conn")
			b.ReportMetric(float64(selfCPU.Microseconds())/n, "client-cpu-µs/conn")
		})
	}
}

// storm connects a fleet with TLS client certificates at once.
type storm struct {
	addr                 string
	cfgs                 []*tls.Config
	workers              int        // connects in flight at most
	mu                   sync.Mutex // guards the figures below
	handshakes, connects []time.Duration
	resumed              int
}

func newStorm(ca *pki.CA, addr string, certs []tls.Certificate, resume bool, workers int) *storm {
	st := &storm{addr: addr, cfgs: make([]*tls.Config, len(certs)), workers: workers}
	roots := ca.Pool()
	for i := range certs {
		st.cfgs[i] = &tls.Config{RootCAs: roots, Certificates: certs[i : i+1]}
		if resume {
			st.cfgs[i].ClientSessionCache = new(dial.SessionCache)
		}
	}
	return st
}

func (st *storm) reset() {
	st.handshakes, st.connects, st.resumed = st.handshakes[:0], st.connects[:0], 0
}

// round connects every device at once, then disconnects them all.
func (st *storm) round(ctx context.Context) error {
	sessions := make([]*mqtt.Session, len(st.cfgs))
	errs := make(chan error, len(st.cfgs))
	var wg sync.WaitGroup
	slots := make(chan struct{}, st.workers)
	for i, cfg := range st.cfgs {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			o := mqtt.Options{Addr: st.addr, ClientID: fmt.Sprintf("dev-%d", i), CleanSession: true, Timeout: 30 * time.Second,
				Dial: dial.TLS(nil, dial.TLSOptions{Config: cfg, Handshook: st.handshook})}
			start := time.Now()
			s, err := mqtt.Connect(ctx, o, nil)
			if err != nil {
				errs <- err
				return
			}
			st.mu.Lock()
			st.connects = append(st.connects, time.Since(start))
			st.mu.Unlock()
			sessions[i] = s
		})
	}
	wg.Wait()
	for _, s := range sessions {
		if s != nil {
			s.Close()
		}
	}
	close(errs)
	return <-errs
}

func (st *storm) handshook(h dial.TLSHandshake) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.handshakes = append(st.handshakes, h.Duration)
	if h.Resumed {
		st.resumed++
	}
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// procCPU returns the user and system CPU time process pid has used,
// from /proc (clock ticks of 10 ms).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after it. utime and stime are fields 14 and 15.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
