package coap_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/coap/coaptest"
)

func dial(t testing.TB, o coap.Options) *coap.Session {
	t.Helper()
	s, err := coap.Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func request(typ coap.Type, code coap.Code, path, payload string) *coap.Message {
	m := &coap.Message{Type: typ, Code: code, Payload: []byte(payload)}
	m.SetPath(path)
	return m
}

func do(t *testing.T, s *coap.Session, req *coap.Message, want coap.Code) *coap.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := s.Do(ctx, req)
	if err != nil {
		t.Fatalf("%v: %v", req, err)
	}
	if resp.Code != want {
		t.Fatalf("%v: %v %q, want %v", req, resp.Code, resp.Payload, want)
	}
	return resp
}

// TestLibcoap runs the session against libcoap's coap-server-notls:
// piggybacked, separate and non-confirmable responses, resource creation,
// an error response and a ping.
func TestLibcoap(t *testing.T) {
	srv := coaptest.StartServer(t, "notls")
	s := dial(t, coap.Options{Addr: srv.Addr(), Seed: 1})
	CON, NON := coap.Confirmable, coap.NonConfirmable

	if r := do(t, s, request(CON, coap.GET, "/", ""), coap.Content); !strings.Contains(string(r.Payload), "libcoap") {
		t.Errorf("GET / = %q", r.Payload)
	}
	if r := do(t, s, request(CON, coap.GET, "/time", ""), coap.Content); len(r.Payload) == 0 {
		t.Error("GET /time: empty payload")
	}
	do(t, s, request(NON, coap.GET, "/time", ""), coap.Content)
	async := request(CON, coap.GET, "/async", "")
	async.AddQuery("1") // answer after 1 s
	start := time.Now()
	do(t, s, async, coap.Content)
	// libcoap's clock ticks coarsely: "1 s" can come a little early.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("GET /async?1 answered after %v, want about 1s", d)
	}
	if st := s.Stats(); st.Separate != 1 {
		t.Errorf("GET /async: %d separate responses, want 1", st.Separate)
	}
	do(t, s, request(CON, coap.PUT, "/m2msim/put", "hello"), coap.Created)
	do(t, s, request(CON, coap.PUT, "/m2msim/put", "again"), coap.Changed)
	if r := do(t, s, request(CON, coap.GET, "/m2msim/put", ""), coap.Content); string(r.Payload) != "again" {
		t.Errorf("GET after PUT = %q, want again", r.Payload)
	}
	r := do(t, s, request(CON, coap.POST, "/m2msim-post", "x"), coap.Created)
	if loc, ok := r.Option(coap.LocationPath); !ok || string(loc) != "m2msim-post" {
		t.Errorf("POST: Location-Path %q, %v", loc, ok)
	}
	do(t, s, request(CON, coap.GET, "/nothing-here", ""), coap.NotFound)
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v", err)
	}
	st := s.Stats()
	if st.Retransmissions != 0 || st.Timeouts != 0 || st.Codes[coap.NotFound] != 1 || st.Codes[coap.Content] != 5 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestLibcoapFleet: 200 sessions, each its own socket, do 10 CON GETs
// each at the same time; every one is answered.
func TestLibcoapFleet(t *testing.T) {
	srv := coaptest.StartServer(t, "notls")
	const sessions, each = 200, 10
	var counters coap.Counters
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		s := dial(t, coap.Options{Addr: srv.Addr(), Seed: 1, Stream: uint64(i), Counters: &counters})
		wg.Go(func() {
			for range each {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := s.Do(ctx, request(coap.Confirmable, coap.GET, "/time", ""))
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := counters.Snapshot()
	if st.Requests != sessions*each || st.Codes[coap.Content] != sessions*each || st.Timeouts != 0 {
		t.Errorf("Stats = %+v, want %d requests all answered 2.05", st, sessions*each)
	}
	t.Logf("%d retransmissions", st.Retransmissions)
}
