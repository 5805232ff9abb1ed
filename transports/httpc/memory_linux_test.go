package httpc_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/footprint"
	"github.com/m2msim/m2msim/internal/nginxtest"
	"github.com/m2msim/m2msim/transports/endpoint"
	"github.com/m2msim/m2msim/transports/httpc"
)

// idleDevices is the fleet of each round of BenchmarkIdleDevices.
var idleDevices = footprint.Devices(1000)

// proxy starts m2msim's endpoint behind Debian's nginx: the devices
// talk to nginx, a separate process, so only the clients' memory counts.
func proxy(b *testing.B) string {
	ep, err := endpoint.Start(endpoint.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ep.Close() })
	return nginxtest.Start(b, nginxtest.Options{Upstream: ep.Addr(), WorkerConnections: 2*idleDevices + 512}).Addr()
}

// BenchmarkIdleDevices measures what an idle keep-alive HTTP device costs
// this process after one GET, for the two clients the package chose
// between: a net/http Transport and Client per device, and httpc's lean
// session (one connection, buffers pooled between exchanges).
func BenchmarkIdleDevices(b *testing.B) {
	addr := proxy(b)
	b.Run("net-http", func(b *testing.B) {
		for b.Loop() {
			before := footprint.Take(b)
			clients := make([]*http.Client, 0, idleDevices)
			for i := range idleDevices {
				c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext,
					MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
				resp, err := c.Get("http://" + addr + "/config/d" + strconv.Itoa(i))
				if err != nil {
					b.Fatalf("device %d: %v", i, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				clients = append(clients, c)
			}
			after := footprint.Take(b)
			after.ReportPer(b, before, idleDevices, "device")
			for _, c := range clients {
				c.CloseIdleConnections()
			}
		}
	})
	b.Run("lean", func(b *testing.B) {
		for b.Loop() {
			before := footprint.Take(b)
			ss := make([]*httpc.Session, 0, idleDevices)
			for i := range idleDevices {
				s, err := httpc.Dial(context.Background(), httpc.Options{Addr: addr, KeepAlive: true, Timeout: 10 * time.Second})
				if err != nil {
					b.Fatalf("device %d: %v", i, err)
				}
				got := make(chan error, 1)
				if err := s.Start(httpc.Request{Method: "GET", Target: "/config/d" + strconv.Itoa(i)},
					func(_ httpc.Response, err error) { got <- err }); err != nil {
					b.Fatal(err)
				}
				select {
				case err := <-got:
					if err != nil {
						b.Fatalf("device %d: %v", i, err)
					}
				case <-time.After(10 * time.Second):
					b.Fatalf("device %d: no response in 10s", i)
				}
				ss = append(ss, s)
			}
			after := footprint.Take(b)
			after.ReportPer(b, before, idleDevices, "device")
			for _, s := range ss {
				s.Close()
			}
		}
	})
}
