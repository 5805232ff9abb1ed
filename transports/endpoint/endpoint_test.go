package endpoint_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/m2msim/m2msim/transports/endpoint"
)

func start(t *testing.T, o endpoint.Options) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

var client = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestQueuedCommandsPolledOnce(t *testing.T) {
	ep := start(t, endpoint.Options{Queue: 2})
	for _, c := range []string{"a", "b", "c"} {
		if err := ep.Push("/commands/d1", []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	code, body := get(t, "http://"+ep.Addr()+"/commands/d1")
	var p endpoint.Poll
	if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil {
		t.Fatalf("poll = %d %q (%v)", code, body, err)
	}
	if strings.Join(p.Commands, ",") != "b,c" {
		t.Errorf("commands %v, want the newest 2 of 3: b,c", p.Commands)
	}
	if code, _ := get(t, "http://"+ep.Addr()+"/commands/d1"); code != 204 {
		t.Errorf("second poll = %d, want 204", code)
	}
}

func TestLongPollTimesOutEmpty(t *testing.T) {
	ep := start(t, endpoint.Options{})
	start := time.Now()
	code, _ := get(t, "http://"+ep.Addr()+"/commands/d1?wait=300ms")
	if el := time.Since(start); code != 204 || el < 300*time.Millisecond {
		t.Errorf("long poll = %d after %v, want 204 after >= 300ms", code, el)
	}
	if code, _ := get(t, "http://"+ep.Addr()+"/commands/d1?wait=soon"); code != 400 {
		t.Errorf("bad wait = %d, want 400", code)
	}
}

func TestFaultsEveryNth(t *testing.T) {
	ep := start(t, endpoint.Options{Faults: endpoint.Faults{Every: 3, Status: 429, RetryAfter: 1500 * time.Millisecond}})
	var codes []int
	for range 6 {
		resp, err := client.Post("http://"+ep.Addr()+"/telemetry/d1", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q, want 2 (1.5s rounded up)", resp.Header.Get("Retry-After"))
		}
	}
	want := []int{204, 204, 429, 204, 204, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("codes %v, want %v", codes, want)
		}
	}
	if s := ep.Stats(); s[429] != 2 || s[204] != 4 {
		t.Errorf("Stats = %v, want 2 x 429 and 4 x 204", s)
	}
}

func TestWebSocketUpAndDown(t *testing.T) {
	ep := start(t, endpoint.Options{})
	got := make(chan string, 1)
	ep.OnDeliver(func(path string, p []byte, _ time.Time) { got <- path + " " + string(p) })
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws://"+ep.Addr()+"/ws/d7", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("up")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "/ws/d7 up" {
			t.Errorf("delivered %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("frame not delivered")
	}
	if err := ep.Push("/ws/d7", []byte("down")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "down" {
		t.Errorf("read %q, %v; want down", p, err)
	}
	if err := ep.Push("/ws/nobody", []byte("x")); !errors.Is(err, endpoint.ErrNotConnected) {
		t.Errorf("push to nobody = %v, want ErrNotConnected", err)
	}
	if err := ep.Push("/elsewhere/x", []byte("x")); !errors.Is(err, endpoint.ErrPath) {
		t.Errorf("push elsewhere = %v, want ErrPath", err)
	}
}

func TestDevice(t *testing.T) {
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"/commands/d1", "d1", true}, {"/commands/", "", false}, {"/commands/a/b", "", false},
		{"/other/d1", "", false}, {"/commands/" + strings.Repeat("x", 257), "", false},
	} {
		got, err := endpoint.Device(c.path, "/commands/")
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("Device(%q) = %q, %v; want %q, ok %v", c.path, got, err, c.want, c.ok)
		}
	}
}

func FuzzDevice(f *testing.F) {
	f.Add("/commands/d1")
	f.Add("/commands/a/b")
	f.Fuzz(func(t *testing.T, path string) {
		dev, err := endpoint.Device(path, "/commands/")
		if err == nil && (dev == "" || len(dev) > endpoint.MaxDevice || strings.Contains(dev, "/")) {
			t.Errorf("Device(%q) = %q", path, dev)
		}
	})
}

func FuzzParseWait(f *testing.F) {
	f.Add("30s")
	f.Add("30")
	f.Add("-1s")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := endpoint.ParseWait(s, time.Minute)
		if err == nil && (d < 0 || d > time.Minute) {
			t.Errorf("ParseWait(%q) = %v, out of [0, 1m]", s, d)
		}
	})
}
