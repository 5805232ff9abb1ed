package mqtt

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSubscribeBatch(t *testing.T) {
	filters := func(n, size int) []Subscription {
		s := make([]Subscription, n)
		for i := range s {
			s[i] = Subscription{Topic: strings.Repeat("t", size)}
		}
		return s
	}
	share := "$share/m2msim/"
	tests := []struct {
		name   string
		subs   []Subscription
		prefix string
		want   int
	}{
		{"one", filters(1, 5), "", 1},
		{"under both caps", filters(999, 10), share, 999},
		{"filter cap", filters(2500, 10), share, maxSubscribeFilters},
		// 2 + n*(2+14+100+1) <= 65536: 560 filters.
		{"byte cap", filters(1500, 100), share, 560},
		{"a filter over the byte cap goes alone", filters(3, 65535), share, 1},
	}
	for _, tt := range tests {
		got := subscribeBatch(tt.subs, tt.prefix)
		if got != tt.want {
			t.Errorf("%s: subscribeBatch = %d, want %d", tt.name, got, tt.want)
		}
		if p := subscribePacket(1, tt.subs[:got], tt.prefix); got > 1 && len(p) > maxSubscribeBytes+8 {
			t.Errorf("%s: packet of %d bytes", tt.name, len(p))
		}
	}
}

func TestSubscribePacketPrefix(t *testing.T) {
	got := fmt.Sprintf("%x", subscribePacket(7, []Subscription{{Topic: "a/+", QoS: 1}}, "$share/g/"))
	// 0x82, remaining 17: id 7, length 12 "$share/g/a/+", qos 1
	want := "8211" + "0007" + "000c" + fmt.Sprintf("%x", "$share/g/a/+") + "01"
	if got != want {
		t.Errorf("subscribePacket with a prefix = %s, want %s", got, want)
	}
}

func TestRouter(t *testing.T) {
	var got []string
	group := func(name string, filters ...string) *subGroup {
		g := &subGroup{deliver: func(topic string, _ []byte, _ time.Time) { got = append(got, name+":"+topic) }}
		for _, f := range filters {
			g.subs = append(g.subs, Subscription{Topic: f})
		}
		return g
	}
	r := newRouter([]*subGroup{
		group("a", "x/1", "x/2", "y/#"),
		group("b", "x/+", "x/1"),
		group("c", "x/1"),
		group("d", "z"),
	})
	tests := []struct {
		topic string
		want  []string
	}{
		{"x/1", []string{"a:x/1", "b:x/1", "c:x/1"}},
		{"x/2", []string{"a:x/2", "b:x/2"}},
		{"x/3", []string{"b:x/3"}},
		{"y/q/r", []string{"a:y/q/r"}},
		{"z", []string{"d:z"}},
		{"nothing", nil},
	}
	for _, tt := range tests {
		got = nil
		r.route([]byte(tt.topic), nil, time.Now())
		if !slices.Equal(got, tt.want) {
			t.Errorf("route(%q) delivered %v, want %v", tt.topic, got, tt.want)
		}
	}
}

// BenchmarkRoute is the backend's per-message routing with 100,000
// per-device filters and a wildcard.
func BenchmarkRoute(b *testing.B) {
	var subs []Subscription
	for i := range 100_000 {
		subs = append(subs, Subscription{Topic: fmt.Sprintf("fleet/%06d/up", i)})
	}
	nop := func(string, []byte, time.Time) {}
	r := newRouter([]*subGroup{{subs: subs, deliver: nop}, {subs: []Subscription{{Topic: "cmd/+/reply"}}, deliver: nop}})
	topic := []byte("fleet/054321/up")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r.route(topic, nil, now)
	}
}
