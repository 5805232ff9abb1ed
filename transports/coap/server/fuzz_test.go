package server

import (
	"net"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// FuzzHandle feeds arbitrary datagrams to a worker, twice (the second
// is a duplicate), then changes and deletes the resource they may have
// registered with: whatever a client sends, the server must not panic
// and must keep its bounds. The corpus is kept in
// testdata/fuzz/FuzzHandle.
func FuzzHandle(f *testing.F) {
	seed := func(m *coap.Message) {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	get := &coap.Message{Type: coap.Confirmable, Code: coap.GET, MessageID: 1, Token: []byte{1}}
	get.SetPath("/a")
	get.SetUint(coap.Observe, 0)
	seed(get)
	put := &coap.Message{Type: coap.NonConfirmable, Code: coap.PUT, MessageID: 2, Payload: make([]byte, 16)}
	put.SetPath("/a")
	put.SetBlock(coap.Block1, coap.Block{More: true})
	put.SetUint(coap.Size1, 40)
	seed(put)
	blk := &coap.Message{Type: coap.Confirmable, Code: coap.GET, MessageID: 3}
	blk.SetPath("/a")
	blk.SetBlock(coap.Block2, coap.Block{Num: 1, SZX: 0})
	seed(blk)
	post := &coap.Message{Type: coap.Confirmable, Code: coap.POST, MessageID: 4, Payload: []byte("x")}
	post.SetPath("/.well-known/core")
	post.AddOption(coap.IfMatch, []byte{1})
	seed(post)
	seed(&coap.Message{Type: coap.Reset, MessageID: 5})
	seed(&coap.Message{Type: coap.Confirmable, Code: coap.Empty, MessageID: 6})

	s, err := StartConfig("127.0.0.1:0", nil, Config{Workers: 1, MaxObservers: 4, MaxUploads: 2, BlockSize: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // the client: never read
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sink.Close() })
	from := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	w := s.workers[0] // its goroutine idles: no datagram reaches the server's socket
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= maxDatagram {
			return
		}
		d := &datagram{from: endpoint{addr: from}}
		for range 2 {
			d.n, d.at = copy(d.b[:], data), time.Now()
			w.handle(d)
		}
		s.Put("/a", make([]byte, 40))
		if _, ok := s.store.remove([]byte("/a")); !ok {
			t.Fatal("/a not stored after Put")
		}
		s.obs.gone("/a")
		st := s.Stats()
		if st.Observers > 4 || len(w.uploads) > 2 || st.Resources > 10_000 {
			t.Fatalf("bounds broken: %+v, %d uploads", st, len(w.uploads))
		}
	})
}
