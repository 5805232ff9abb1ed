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

// handshakeMsg is an unfragmented handshake message of type typ with n
// bytes of body.
func handshakeMsg(typ byte, n int) []byte {
	l := []byte{byte(n >> 16), byte(n >> 8), byte(n)}
	b := append([]byte{typ}, l...)
	b = append(b, 0, 1) // message_seq
	b = append(b, 0, 0, 0)
	b = append(b, l...)
	return append(b, make([]byte, n)...)
}

var (
	serverHello     = record(contentHandshake, 0, handshakeMsg(msgServerHello, 70))
	serverKeyEx     = record(contentHandshake, 0, handshakeMsg(12, 6))
	certificate     = record(contentHandshake, 0, handshakeMsg(11, 400))
	serverHelloDone = record(contentHandshake, 0, handshakeMsg(msgServerHelloDone, 0))
	helloVerify     = record(contentHandshake, 0, handshakeMsg(3, 35))
	changeCipher    = record(20, 0, []byte{1})
	finished        = record(contentHandshake, 1, make([]byte, 40))
	fatalAlert      = record(21, 0, []byte{2, 40})
	appData         = record(23, 1, make([]byte, 30))
)

func cat(ds ...[]byte) []byte { return bytes.Join(ds, nil) }

// TestFlightJoiner feeds datagrams to a flightJoiner and checks what each
// Read returns.
func TestFlightJoiner(t *testing.T) {
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
		{"flight in one record", [][]byte{record(contentHandshake, 0, handshakeMsg(msgServerHello, 70), handshakeMsg(12, 6), handshakeMsg(msgServerHelloDone, 0))}, 0,
			[][]byte{record(contentHandshake, 0, handshakeMsg(msgServerHello, 70), handshakeMsg(12, 6), handshakeMsg(msgServerHelloDone, 0))}},
		{"flight over datagrams (libcoap gnutls)", [][]byte{serverHello, serverKeyEx, serverHelloDone, appData}, 0,
			[][]byte{cat(serverHello, serverKeyEx, serverHelloDone), appData}},
		{"certificate flight", [][]byte{serverHello, certificate, cat(serverKeyEx, serverHelloDone)}, 0,
			[][]byte{cat(serverHello, certificate, serverKeyEx, serverHelloDone)}},
		{"flight sent again", [][]byte{serverHello, serverKeyEx, serverHello, serverKeyEx, serverHelloDone}, 0,
			[][]byte{cat(serverHello, serverKeyEx, serverHelloDone)}},
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

// TestFlightComplete checks the scan that ends a join on records cut
// short or malformed: pion judges those, the joiner must not wait.
func TestFlightComplete(t *testing.T) {
	tests := []struct {
		name string
		d    []byte
		want bool
	}{
		{"server hello alone", serverHello, false},
		{"with hello done", cat(serverHello, serverHelloDone), true},
		{"record cut short", serverHello[:20], true},
		{"trailing bytes", cat(serverHello, []byte{22, 0xfe}), true},
		{"message cut short", record(contentHandshake, 0, handshakeMsg(msgServerHello, 70)[:30]), true},
		{"encrypted handshake", cat(serverHello, finished), true},
	}
	for _, tt := range tests {
		if got := flightComplete(tt.d); got != tt.want {
			t.Errorf("flightComplete(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !startsServerHello(serverHello) || startsServerHello(helloVerify) || startsServerHello(appData) {
		t.Error("startsServerHello misreads the fixtures")
	}
}
