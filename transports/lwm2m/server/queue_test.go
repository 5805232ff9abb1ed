package server_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	coapserver "github.com/m2msim/m2msim/transports/coap/server"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/lwm2m"
	"github.com/m2msim/m2msim/transports/lwm2m/server"
)

// A queue-mode device that sleeps gets a Read only after it wakes: the
// server holds it past the awake time, and sends it after the Update.
func TestQueueModeRead(t *testing.T) {
	s := startServer(t, server.Config{AwakeTime: 200 * time.Millisecond})
	d := startDevice(t, s, 7, func(o *lwm2m.ClientOptions) { o.Queue = true })
	r, _ := s.Registration(d.ep)
	if !r.Queue {
		t.Fatalf("registration %+v not in queue mode", r)
	}
	d.Sleep()
	eventually(t, 2*time.Second, "the awake time over", func() bool { return time.Now().After(r.AwakeUntil) })
	type answer struct {
		resp *server.Response
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := s.Read(ctx(t, 10*time.Second), d.ep, mustPath(t, "/3/0/9"), lwm2m.FormatText)
		done <- answer{resp, err}
	}()
	eventually(t, 2*time.Second, "the read queued", func() bool {
		r, _ := s.Registration(d.ep)
		return r.Queued == 1
	})
	select {
	case a := <-done:
		t.Fatalf("read answered while the device slept: %+v, %v", a.resp, a.err)
	default:
	}
	if n := d.requests.Load(); n != 0 {
		t.Fatalf("the sleeping device handled %d requests", n)
	}
	d.Wake()
	select {
	case a := <-done:
		if a.err != nil || a.resp.Code != coap.Content {
			t.Fatalf("read after wake: %+v, %v", a.resp, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5s of the wake-up")
	}
	if st := s.Stats(); st.Queued != 1 || st.Updates != 1 || d.requests.Load() != 1 {
		t.Errorf("queued %d, updates %d, device requests %d: want 1 each", st.Queued, st.Updates, d.requests.Load())
	}
}

// A device in eDRX hears the server only in its paging windows: a Read
// sent between two is held by the device's radio (the network buffers
// it) and answered in the next window.
func TestEDRXDeviceAnswersInItsPagingWindow(t *testing.T) {
	const cycle, ptw, inactivity = time.Second, 100 * time.Millisecond, 150 * time.Millisecond
	base := time.Now()
	next := func(at time.Time) time.Time { // the start of the window at or after at
		off := at.Sub(base) % cycle
		if off < ptw {
			return at
		}
		return at.Add(cycle - off)
	}
	var handled atomic.Int64
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 12, func(o *lwm2m.ClientOptions) {
		o.Hear = func(arrived, last time.Time) time.Time {
			if arrived.Sub(last) < inactivity {
				return arrived
			}
			return next(arrived)
		}
		o.OnRequest = func(lwm2m.Op, coap.Code) { handled.Store(time.Now().UnixNano()) }
	})
	for range 3 {
		time.Sleep(inactivity + 50*time.Millisecond) // idle
		if off := time.Since(base) % cycle; off < ptw+20*time.Millisecond {
			time.Sleep(ptw + 30*time.Millisecond - off) // sent between two windows
		}
		start := time.Now()
		resp, err := s.Read(ctx(t, 5*time.Second), d.ep, mustPath(t, "/3/0/0"), lwm2m.FormatText)
		if err != nil || resp.Code != coap.Content {
			t.Fatalf("read: %+v, %v", resp, err)
		}
		at, want := time.Unix(0, handled.Load()), next(start)
		if at.Before(want.Add(-5 * time.Millisecond)) {
			t.Errorf("read sent at +%v handled at +%v: before the paging window at +%v",
				start.Sub(base), at.Sub(base), want.Sub(base))
		}
	}
	if d.Held() < 3 {
		t.Errorf("held %d datagrams, want at least the 3 reads", d.Held())
	}
}

// A sleeping device hears nothing: a request sent within the awake time
// goes unanswered until the server's retransmission finds it awake.
func TestSleepingDeviceDoesNotAnswer(t *testing.T) {
	s := startServer(t, server.Config{AckTimeout: 100 * time.Millisecond})
	d := startDevice(t, s, 8, func(o *lwm2m.ClientOptions) { o.Queue = true })
	d.Sleep()
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(ctx(t, 10*time.Second), d.ep, mustPath(t, "/3/0/0"), lwm2m.FormatText)
		done <- err
	}()
	eventually(t, 5*time.Second, "a retransmission lost on the sleeping device", func() bool {
		return s.Stats().Retransmissions >= 1 && d.Missed() >= 2
	})
	if d.requests.Load() != 0 {
		t.Fatalf("the sleeping device handled %d requests", d.requests.Load())
	}
	d.Wake()
	if err := <-done; err != nil {
		t.Fatalf("read after wake: %v", err)
	}
}

// NAT rebinding: the device's next Update comes from a new port, and
// the server reaches it there.
func TestNATRebinding(t *testing.T) {
	s := startServer(t, server.Config{})
	var rebound atomic.Int64
	var nd net.Dialer
	d := startDevice(t, s, 9, func(o *lwm2m.ClientOptions) {
		o.Lifetime = 2 * time.Second
		o.CoAP.Dial = dial.NAT(nd.DialContext, 500*time.Millisecond, func() { rebound.Add(1) })
	})
	first, _ := s.Registration(d.ep)
	eventually(t, 5*time.Second, "an Update from a new port", func() bool {
		r, _ := s.Registration(d.ep)
		return r.Addr != first.Addr && rebound.Load() >= 1
	})
	r, _ := s.Registration(d.ep)
	if r.Addr.String() != d.Session().LocalAddr().String() {
		t.Errorf("server has %v, the device is at %v", r.Addr, d.Session().LocalAddr())
	}
	resp, err := s.Read(ctx(t, 5*time.Second), d.ep, mustPath(t, "/3/0/0"), lwm2m.FormatText)
	if err != nil || string(resp.Payload) != "m2msim" {
		t.Fatalf("read at the new address: %+v, %v", resp, err)
	}
	if st := s.Stats(); st.Rebound < 1 || st.Registrations != 1 {
		t.Errorf("stats: rebound %d, registrations %d: want at least 1 and 1", st.Rebound, st.Registrations)
	}
}

// A Send after a NAT rebinding comes from an address the server does not
// know: it answers 4.04, and the device's Update at once moves its
// registration there, so the next Send is accepted, long before the
// lifetime's renewal.
func TestSendAfterNATRebindingUpdates(t *testing.T) {
	s := startServer(t, server.Config{})
	var nd net.Dialer
	d := startDevice(t, s, 11, func(o *lwm2m.ClientOptions) {
		o.Lifetime = time.Hour
		o.CoAP.Dial = dial.NAT(nd.DialContext, 200*time.Millisecond, nil)
	})
	send := func() coap.Code {
		t.Helper()
		type outcome struct {
			code coap.Code
			err  error
		}
		got := make(chan outcome, 1)
		recs := []lwm2m.Record{{Path: mustPath(t, "/3303/0/5750"), Value: lwm2m.String("x")}}
		// The response is valid only during the callback: take its code.
		done := func(r coap.Result) {
			if r.Err != nil {
				got <- outcome{err: r.Err}
				return
			}
			got <- outcome{code: r.Response.Code}
		}
		if err := d.Send(lwm2m.FormatSenMLCBOR, recs, done); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatalf("send: %v", r.err)
			}
			return r.code
		case <-time.After(5 * time.Second):
			t.Fatal("send: no answer")
		}
		return 0
	}
	time.Sleep(300 * time.Millisecond) // past the NAT's timeout: the next datagram leaves from a new port
	if c := send(); c != coap.NotFound {
		t.Fatalf("first Send after the rebinding: %v, want 4.04", c)
	}
	eventually(t, 5*time.Second, "the registration moved by an Update", func() bool { return s.Stats().Rebound >= 1 })
	if c := send(); c != coap.Changed {
		t.Errorf("Send after the Update: %v, want 2.04", c)
	}
	if st := s.Stats(); st.Registrations != 1 {
		t.Errorf("registrations %d: want 1 (an Update, not a new Register)", st.Registrations)
	}
}

// A pull firmware update of a 16 KiB image: the device downloads it
// block-wise from the server, goes Downloading -> Downloaded -> Updating
// -> Idle with result 1, and registers again.
func TestFirmwareUpdate(t *testing.T) {
	s := startServer(t, server.Config{FirmwareSize: 16 << 10})
	d := startDevice(t, s, 10, func(o *lwm2m.ClientOptions) {
		o.FirmwareBlockSize = 512
		o.FirmwareUpdateTime = 100 * time.Millisecond
	})
	image, uri := s.Firmware()
	rep, err := s.UpdateFirmware(ctx(t, 20*time.Second), d.ep, uri)
	if err != nil || rep.Result != lwm2m.ResultSuccess {
		t.Fatalf("update: %+v, %v", rep, err)
	}
	if rep.Downloaded <= 0 || rep.Total < rep.Downloaded {
		t.Errorf("report %+v: want a download time within the total", rep)
	}
	eventually(t, 5*time.Second, "two firmware events and a new registration", func() bool {
		return len(d.firmware()) == 2 && d.registered.Load() == 2
	})
	ev := d.firmware()
	if dl := ev[0]; dl.State != lwm2m.FirmwareDownloaded || dl.Bytes != int64(len(image)) || dl.Download <= 0 || dl.Err != nil {
		t.Errorf("download event %+v: want Downloaded, %d bytes", dl, len(image))
	}
	if up := ev[1]; up.State != lwm2m.FirmwareIdle || up.Result != lwm2m.ResultSuccess {
		t.Errorf("update event %+v: want Idle, result 1", up)
	}
	st := s.Stats()
	if st.FirmwareBlocks != uint64(len(image)/512) || st.Registrations != 2 {
		t.Errorf("stats: %d blocks, %d registrations: want %d and 2", st.FirmwareBlocks, st.Registrations, len(image)/512)
	}
	resp, err := s.Read(ctx(t, 5*time.Second), d.ep, mustPath(t, "/5/0/5"), lwm2m.FormatText)
	if err != nil || string(resp.Payload) != "1" {
		t.Errorf("update result: %+v, %v", resp, err)
	}
}

// A Package URI the device cannot fetch ends the download with a
// failure result, and the update with ErrFirmware.
func TestFirmwareUpdateMissingPackage(t *testing.T) {
	s := startServer(t, server.Config{})
	d := startDevice(t, s, 11, nil)
	rep, err := s.UpdateFirmware(ctx(t, 20*time.Second), d.ep, "coap://"+s.Addr()+"/nothing")
	if err == nil || rep.Result != lwm2m.ResultInvalidURI {
		t.Fatalf("update from a missing package: %+v, %v: want result 7 and an error", rep, err)
	}
}

// A Package URI on another host is fetched over a transient session to
// it: here the embedded CoAP server holds a 4 KiB package.
func TestFirmwareFromAnotherServer(t *testing.T) {
	s := startServer(t, server.Config{})
	cs, err := coapserver.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	pkg := make([]byte, 4096)
	for i := range pkg {
		pkg[i] = byte(i * 7)
	}
	if err := cs.Put("/pkg/v2", pkg); err != nil {
		t.Fatal(err)
	}
	d := startDevice(t, s, 14, nil)
	rep, err := s.UpdateFirmware(ctx(t, 20*time.Second), d.ep, "coap://"+cs.Addr()+"/pkg/v2")
	if err != nil || rep.Result != lwm2m.ResultSuccess {
		t.Fatalf("update: %+v, %v", rep, err)
	}
	eventually(t, 5*time.Second, "the download event", func() bool { return len(d.firmware()) >= 1 })
	if ev := d.firmware()[0]; ev.Bytes != int64(len(pkg)) || ev.State != lwm2m.FirmwareDownloaded {
		t.Errorf("download event %+v, want %d bytes, Downloaded", ev, len(pkg))
	}
	if st := s.Stats(); st.FirmwareBlocks != 0 {
		t.Errorf("the LwM2M server served %d blocks, want none", st.FirmwareBlocks)
	}
}
