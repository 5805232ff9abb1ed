package coap

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// record is a DTLS 1.2 record of content type typ at epoch with body.
func record(typ byte, epoch uint16, body ...[]byte) []byte {
	b := []byte{typ, 0xfe, 0xfd}
	b = binary.BigEndian.AppendUint16(b, epoch)
	b = append(b, 0, 0, 0, 0, 0, 1) // sequence number
	joined := bytes.Join(body, nil)
	b = binary.BigEndian.AppendUint16(b, uint16(len(joined)))
	return append(b, joined...)
}

// handshakeMsg is handshake message seq of type typ, n bytes long, whole.
func handshakeMsg(typ byte, seq uint16, n int) []byte { return handshakeFrag(typ, seq, n, 0, n) }

// handshakeFrag is the fragment [off, off+size) of handshake message seq
// of type typ, total bytes long.
func handshakeFrag(typ byte, seq uint16, total, off, size int) []byte {
	u24 := func(v int) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }
	b := append([]byte{typ}, u24(total)...)
	b = binary.BigEndian.AppendUint16(b, seq)
	b = append(b, u24(off)...)
	b = append(b, u24(size)...)
	return append(b, make([]byte, size)...)
}

// A PSK flight (ServerHello, ServerKeyExchange, ServerHelloDone), a
// certificate flight (with a Certificate in two fragments instead of the
// key exchange), and what else a client may receive.
var (
	serverHello     = record(contentHandshake, 0, handshakeMsg(msgServerHello, 1, 70))
	serverKeyEx     = record(contentHandshake, 0, handshakeMsg(12, 2, 6))
	serverHelloDone = record(contentHandshake, 0, handshakeMsg(msgServerHelloDone, 3, 0))
	certificate     = record(contentHandshake, 0, handshakeMsg(11, 2, 400))
	certHead        = record(contentHandshake, 0, handshakeFrag(11, 2, 400, 0, 250))
	certTail        = record(contentHandshake, 0, handshakeFrag(11, 2, 400, 250, 150))
	certDone        = record(contentHandshake, 0, handshakeMsg(msgServerHelloDone, 3, 0))
	helloVerify     = record(contentHandshake, 0, handshakeMsg(3, 0, 35))
	changeCipher    = record(20, 0, []byte{1})
	finished        = record(contentHandshake, 1, make([]byte, 40))
	fatalAlert      = record(21, 0, []byte{2, 40})
	appData         = record(23, 1, make([]byte, 30))
)

func cat(ds ...[]byte) []byte { return bytes.Join(ds, nil) }

// TestFlightJoiner feeds datagrams to a flightJoiner and checks what each
// Read returns.
func TestFlightJoiner(t *testing.T) {
	oneRecord := record(contentHandshake, 0, handshakeMsg(msgServerHello, 1, 70), handshakeMsg(12, 2, 6), handshakeMsg(msgServerHelloDone, 3, 0))
	tests := []struct {
		name string
		in   [][]byte
		buf  int      // read buffer size; 0: 8192
		want [][]byte // one per Read
	}{
		{"application data passes", [][]byte{appData, appData}, 0, [][]byte{appData, appData}},
		{"hello verify passes", [][]byte{helloVerify}, 0, [][]byte{helloVerify}},
		{"flight in one datagram", [][]byte{cat(serverHello, serverKeyEx, serverHelloDone)}, 0,
			[][]byte{cat(serverHello, serverKeyEx, serverHelloDone)}},
		{"flight in one record", [][]byte{oneRecord}, 0, [][]byte{oneRecord}},
		{"flight over datagrams (libcoap gnutls)", [][]byte{serverHello, serverKeyEx, serverHelloDone, appData}, 0,
			[][]byte{cat(serverHello, serverKeyEx, serverHelloDone), appData}},
		{"lost message waits for the resent flight", [][]byte{serverHello, serverHelloDone, serverHello, serverKeyEx, serverHelloDone}, 0,
			[][]byte{cat(serverHello, serverHelloDone, serverKeyEx), serverHelloDone}},
		{"duplicate dropped", [][]byte{serverHello, serverHello, serverKeyEx, serverKeyEx, serverHelloDone}, 0,
			[][]byte{cat(serverHello, serverKeyEx, serverHelloDone)}},
		{"certificate in fragments", [][]byte{serverHello, certHead, certTail, certDone}, 0,
			[][]byte{cat(serverHello, certHead, certTail, certDone)}},
		{"fragment lost", [][]byte{serverHello, certHead, certDone, cat(serverHello, certHead), cat(certTail, certDone)}, 0,
			[][]byte{cat(serverHello, certHead, certDone, certTail)}},
		{"resumption", [][]byte{serverHello, cat(changeCipher, finished)}, 0,
			[][]byte{cat(serverHello, changeCipher, finished)}},
		{"alert ends it", [][]byte{serverHello, fatalAlert}, 0, [][]byte{cat(serverHello, fatalAlert)}},
		{"no room: kept for the next read", [][]byte{serverHello, certificate}, 500,
			[][]byte{serverHello, certificate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeConn()
			for _, d := range tt.in {
				c.in <- d
			}
			j := &flightJoiner{Conn: c}
			size := cmpOr(tt.buf, 8192)
			for i, want := range tt.want {
				got := readWithin(t, j, size, time.Second)
				if !bytes.Equal(got, want) {
					t.Fatalf("read %d = % x\nwant % x", i, got, want)
				}
			}
			if len(c.in) != 0 {
				t.Errorf("%d datagrams left unread", len(c.in))
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// readWithin reads once from j into a buffer of size, failing the test
// if the read blocks for d.
func readWithin(t *testing.T, j *flightJoiner, size int, d time.Duration) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b := make([]byte, size)
		n, err := j.Read(b)
		ch <- result{b[:n], err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.b
	case <-time.After(d):
		j.Close()
		t.Fatalf("Read blocked for %v", d)
	}
	return nil
}

// TestFlightComplete checks when a flight may go to pion, on flights
// cut short or malformed: pion judges those, the joiner must not wait.
func TestFlightComplete(t *testing.T) {
	tests := []struct {
		name string
		d    []byte
		want bool
	}{
		{"server hello alone", serverHello, false},
		{"psk flight", cat(serverHello, serverKeyEx, serverHelloDone), true},
		{"key exchange missing", cat(serverHello, serverHelloDone), false},
		{"certificate whole", cat(serverHello, certificate, certDone), true},
		{"certificate head only", cat(serverHello, certHead, certDone), false},
		{"certificate tail first", cat(serverHello, certTail, certHead, certDone), true},
		{"record cut short", serverHello[:20], true},
		{"trailing bytes", cat(serverHello, []byte{22, 0xfe}), true},
		{"message cut short", record(contentHandshake, 0, handshakeMsg(msgServerHello, 1, 70)[:30]), true},
		{"encrypted record", cat(serverHello, finished), true},
	}
	for _, tt := range tests {
		var f flight
		f.scan(tt.d)
		if got := f.complete(); got != tt.want {
			t.Errorf("complete(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !startsServerHello(serverHello) || startsServerHello(helloVerify) || startsServerHello(appData) {
		t.Error("startsServerHello misreads the fixtures")
	}
}
