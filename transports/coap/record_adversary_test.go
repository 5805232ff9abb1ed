package coap

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v2/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v2/pkg/crypto/prf"
	"github.com/pion/dtls/v2/pkg/protocol"
	"github.com/pion/dtls/v2/pkg/protocol/recordlayer"
)

// datagramConn hands out queued datagrams and keeps what is written.
type datagramConn struct {
	net.Conn
	in      [][]byte
	written [][]byte
}

func (c *datagramConn) Read(b []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	d := c.in[0]
	c.in = c.in[1:]
	return copy(b, d), nil
}

func (c *datagramConn) Write(b []byte) (int, error) {
	c.written = append(c.written, bytes.Clone(b))
	return len(b), nil
}

func (c *datagramConn) Close() error                       { return nil }
func (c *datagramConn) SetWriteDeadline(t time.Time) error { return nil }

// testHandshake is a finished handshake's state with fixed keys, CCM_8.
func testHandshake() *handshakeState {
	hs := &handshakeState{epoch: 1, suite: TLS_PSK_WITH_AES_128_CCM_8, master: bytes.Repeat([]byte{7}, 48)}
	hs.clientRandom[0], hs.serverRandom[0] = 1, 2
	return hs
}

// serverSeal protects content as the server would, in epoch 1.
func serverSeal(t testing.TB, hs *handshakeState, seq uint64, content protocol.Content) []byte {
	t.Helper()
	k, err := prf.GenerateEncryptionKeys(hs.master, hs.clientRandom[:], hs.serverRandom[:], 0, 16, 4, sha256.New)
	if err != nil {
		t.Fatal(err)
	}
	// The server's local keys are the client's remote ones.
	c, err := ciphersuite.NewCCM(ciphersuite.CCMTagLength8, k.ServerWriteKey, k.ServerWriteIV, k.ClientWriteKey, k.ClientWriteIV)
	if err != nil {
		t.Fatal(err)
	}
	pkt := &recordlayer.RecordLayer{Header: recordlayer.Header{Version: protocol.Version1_2, Epoch: hs.epoch, SequenceNumber: seq},
		Content: content}
	raw, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := c.Encrypt(pkt, raw)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func newTestRecordConn(t testing.TB, in ...[]byte) (*recordConn, *datagramConn) {
	t.Helper()
	raw := &datagramConn{in: in}
	c, err := newRecordConn(raw, testHandshake(), [][]byte{{0xf1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, raw
}

// The record layer opens what the server's keys sealed, and drops what
// an attacker on the path can make of it: a replay, a flipped bit, a
// record of another epoch, a truncated or oversized one; a close_notify
// ends the session. An epoch-0 record (the server resending its last
// handshake flight) makes the client resend its final flight, once per
// datagram.
func TestRecordLayerDropsWhatDoesNotOpen(t *testing.T) {
	hs := testHandshake()
	good := serverSeal(t, hs, 1, &protocol.ApplicationData{Data: []byte("hello")})
	flipped := bytes.Clone(serverSeal(t, hs, 2, &protocol.ApplicationData{Data: []byte("evil!")}))
	flipped[len(flipped)-3] ^= 1
	otherEpoch := bytes.Clone(serverSeal(t, hs, 3, &protocol.ApplicationData{Data: []byte("x")}))
	otherEpoch[4] = 2 // epoch 2: authenticated data changed too
	truncated := serverSeal(t, hs, 4, &protocol.ApplicationData{Data: []byte("cut")})
	truncated = truncated[:len(truncated)-4]
	epoch0 := []byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0}
	last := serverSeal(t, hs, 5, &protocol.ApplicationData{Data: []byte("world")})
	bye := serverSeal(t, hs, 6, &alertCloseNotifyContent{})
	c, raw := newTestRecordConn(t, good, good, flipped, otherEpoch, truncated, epoch0, epoch0, last, bye)
	b := make([]byte, 64)
	for _, want := range []string{"hello", "world"} {
		n, err := c.Read(b)
		if err != nil || string(b[:n]) != want {
			t.Fatalf("Read = %q, %v; want %q", b[:n], err, want)
		}
	}
	if n, err := c.Read(b); !errors.Is(err, io.EOF) {
		t.Fatalf("after close_notify: %d, %v; want io.EOF", n, err)
	}
	if len(raw.written) != 2 {
		t.Errorf("final flight resent %d times for two epoch-0 datagrams, want 2", len(raw.written))
	}
}

// A record whose payload does not fit the reader's buffer is an error
// the session counts, not a short read.
func TestRecordLayerRecordTooLong(t *testing.T) {
	hs := testHandshake()
	c, _ := newTestRecordConn(t, serverSeal(t, hs, 1, &protocol.ApplicationData{Data: bytes.Repeat([]byte{1}, 40)}))
	if _, err := c.Read(make([]byte, 64)[:16]); !errors.Is(err, errRecordTooLong) {
		t.Fatalf("Read of a 40-byte record into 16 bytes: %v, want errRecordTooLong", err)
	}
}

// FuzzRecordRead feeds the record layer arbitrary datagrams after a valid
// one: it must never panic, and must return only what the keys opened.
func FuzzRecordRead(f *testing.F) {
	hs := testHandshake()
	f.Add(serverSeal(f, hs, 2, &protocol.ApplicationData{Data: []byte("seed")}))
	f.Add(serverSeal(f, hs, 3, &alertCloseNotifyContent{}))
	f.Add([]byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0})
	f.Add([]byte{23, 254, 253, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40, 1, 2, 3})
	first := serverSeal(f, hs, 1, &protocol.ApplicationData{Data: []byte("first")})
	f.Fuzz(func(t *testing.T, d []byte) {
		c, _ := newTestRecordConn(t, first, d)
		b := make([]byte, 2048)
		if n, err := c.Read(b); err != nil || string(b[:n]) != "first" {
			t.Fatalf("first record: %q, %v", b[:n], err)
		}
		n, err := c.Read(b)
		if err == nil && (n > len(d) || string(b[:n]) != "seed") {
			t.Fatalf("opened %q from a datagram the server's keys did not seal", b[:n])
		}
	})
}
