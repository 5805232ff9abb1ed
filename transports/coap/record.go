package coap

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v2"
	"github.com/pion/dtls/v2/pkg/crypto/ciphersuite"
	"github.com/pion/dtls/v2/pkg/crypto/prf"
	"github.com/pion/dtls/v2/pkg/protocol"
	"github.com/pion/dtls/v2/pkg/protocol/recordlayer"
)

// recordConn is the DTLS record layer (RFC 6347 §4.1) of a session once
// pion/dtls/v2 has done the handshake: it protects and opens the
// session's datagrams with the keys the handshake agreed, on the
// session's own reader goroutine. pion's conn would keep two goroutines
// of its own per session, a third for every read, and an 8 KiB buffer
// while it waits: about 30 KiB an idle device, three times what the rest
// of a session costs. The records are pion's own (its exported cipher
// suites seal and open them); only the framing, sequence numbers and
// replay window are here.
type recordConn struct {
	raw    net.Conn
	cipher recordCipher
	epoch  uint16

	wmu sync.Mutex // guards seq, and orders writes
	seq uint64     // of the next record sent

	closed atomic.Bool

	// Owned by the reader.
	replay  replayWindow
	buf     []byte   // a datagram read
	records []byte   // what is left of it to open
	resent  bool     // the final flight was resent for this datagram
	early   [][]byte // datagrams read during the handoff, opened first
	final   [][]byte // the client's final flight of an abbreviated handshake
}

// recordCipher seals and opens records: pion's CCM, GCM and CBC suites.
type recordCipher interface {
	Encrypt(pkt *recordlayer.RecordLayer, raw []byte) ([]byte, error)
	Decrypt(in []byte) ([]byte, error)
}

// handshakeState is what the record layer needs of the handshake: pion
// exports it only gob-encoded (State.MarshalBinary), which cost as much
// CPU as the client's side of the handshake, so handoffConn gathers it
// from the wire and pion's key log instead.
type handshakeState struct {
	epoch        uint16
	seq          uint64 // of the client's next record in epoch
	clientRandom [32]byte
	serverRandom [32]byte
	suite        CipherSuite
	master       []byte
}

// Content types (RFC 5246 §6.2.1) and alerts (§7.2).
const (
	contentChangeCipherSpec = 20
	contentAlert            = 21
	contentApplicationData  = 23
	alertFatal              = 2
	alertCloseNotify        = 0
	maxRecordOverhead       = 13 + 16 + 16 + 32 // header, IV or nonce, padding, MAC or tag
)

// errRecordTooLong reports a record longer than the reader's buffer; the
// session counts it as malformed and reads on.
var errRecordTooLong = &dtls.TemporaryError{Err: errors.New("coap: dtls record longer than the read buffer")}

// newRecordConn carries a session over raw with the keys of hs; final is
// the client's last flight when the handshake was abbreviated (resent if
// the server resends its own), early the datagrams read but not handed to
// pion.
func newRecordConn(raw net.Conn, hs *handshakeState, final, early [][]byte) (*recordConn, error) {
	cipher, err := newRecordCipher(hs)
	if err != nil {
		return nil, err
	}
	return &recordConn{raw: raw, cipher: cipher, epoch: hs.epoch, seq: hs.seq, final: final, early: early}, nil
}

// newRecordCipher derives the client's keys (RFC 5246 §6.3) for the
// suite the handshake chose.
func newRecordCipher(hs *handshakeState) (recordCipher, error) {
	keys := func(mac, key, iv int, h prf.HashFunc) (*prf.EncryptionKeys, error) {
		return prf.GenerateEncryptionKeys(hs.master, hs.clientRandom[:], hs.serverRandom[:], mac, key, iv, h)
	}
	switch hs.suite {
	case TLS_PSK_WITH_AES_128_CCM, TLS_ECDHE_ECDSA_WITH_AES_128_CCM:
		return ccm(keys(0, 16, 4, sha256.New))(ciphersuite.CCMTagLength)
	case TLS_PSK_WITH_AES_128_CCM_8, TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8:
		return ccm(keys(0, 16, 4, sha256.New))(ciphersuite.CCMTagLength8)
	case TLS_PSK_WITH_AES_256_CCM_8:
		return ccm(keys(0, 32, 4, sha256.New))(ciphersuite.CCMTagLength8)
	case TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return gcm(keys(0, 16, 4, sha256.New))
	case TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return gcm(keys(0, 32, 4, sha512.New384))
	case TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:
		return cbc(keys(20, 32, 16, sha256.New))(sha1.New)
	case TLS_PSK_WITH_AES_128_CBC_SHA256, TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256:
		return cbc(keys(32, 16, 16, sha256.New))(sha256.New)
	}
	return nil, fmt.Errorf("coap: dtls: no record layer for cipher suite %v", hs.suite)
}

func ccm(k *prf.EncryptionKeys, err error) func(ciphersuite.CCMTagLen) (recordCipher, error) {
	return func(tag ciphersuite.CCMTagLen) (recordCipher, error) {
		if err != nil {
			return nil, err
		}
		return ciphersuite.NewCCM(tag, k.ClientWriteKey, k.ClientWriteIV, k.ServerWriteKey, k.ServerWriteIV)
	}
}

func gcm(k *prf.EncryptionKeys, err error) (recordCipher, error) {
	if err != nil {
		return nil, err
	}
	return ciphersuite.NewGCM(k.ClientWriteKey, k.ClientWriteIV, k.ServerWriteKey, k.ServerWriteIV)
}

func cbc(k *prf.EncryptionKeys, err error) func(prf.HashFunc) (recordCipher, error) {
	return func(mac prf.HashFunc) (recordCipher, error) {
		if err != nil {
			return nil, err
		}
		return ciphersuite.NewCBC(k.ClientWriteKey, k.ClientWriteIV, k.ClientMACKey, k.ServerWriteKey, k.ServerWriteIV, k.ServerMACKey, mac)
	}
}

// Write sends p in one application_data record.
func (c *recordConn) Write(p []byte) (int, error) {
	if err := c.send(&protocol.ApplicationData{Data: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send seals content in the next record and writes it.
func (c *recordConn) send(content protocol.Content) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.seq > recordlayer.MaxSequenceNumber {
		return errors.New("coap: dtls record sequence numbers exhausted")
	}
	pkt := &recordlayer.RecordLayer{
		Header:  recordlayer.Header{Version: protocol.Version1_2, Epoch: c.epoch, SequenceNumber: c.seq},
		Content: content,
	}
	raw, err := pkt.Marshal()
	if err != nil {
		return err
	}
	sealed, err := c.cipher.Encrypt(pkt, raw)
	if err != nil {
		return err
	}
	c.seq++
	_, err = c.raw.Write(sealed)
	return err
}

// Read returns the payload of the next application_data record. A
// close_notify from the server is io.EOF, a fatal alert an error; records
// that do not open, replays and handshake records are dropped, as RFC
// 6347 §4.1.2.7 asks.
func (c *recordConn) Read(b []byte) (int, error) {
	for {
		if len(c.records) == 0 {
			if err := c.next(len(b)); err != nil {
				return 0, err
			}
		}
		rec := c.take()
		if rec == nil {
			continue
		}
		if n, done, err := c.open(rec, b); done {
			return n, err
		}
	}
}

// next reads the next datagram into c.records; size is the reader's
// buffer, which the record's payload must fit.
func (c *recordConn) next(size int) error {
	if len(c.early) > 0 {
		c.records, c.early = c.early[0], c.early[1:]
		return nil
	}
	if c.buf == nil {
		c.buf = make([]byte, size+maxRecordOverhead+1)
	}
	n, err := c.raw.Read(c.buf)
	if err != nil {
		return err
	}
	c.records, c.resent = c.buf[:n], false
	return nil
}

// take returns the next record of the datagram, or nil (and drops the
// rest) when it is malformed.
func (c *recordConn) take() []byte {
	size, ok := recordSize(c.records)
	if !ok {
		c.records = nil
		return nil
	}
	rec := c.records[:size]
	c.records = c.records[size:]
	return rec
}

// open acts on one record; done reports a result for Read.
func (c *recordConn) open(rec, b []byte) (n int, done bool, err error) {
	epoch := binary.BigEndian.Uint16(rec[3:5])
	if epoch == 0 {
		c.resendFinal() // the server resent its flight: ours was lost
		return 0, false, nil
	}
	seq := recordSeq(rec)
	if epoch != c.epoch || rec[0] == contentChangeCipherSpec || !c.replay.fresh(seq) {
		return 0, false, nil
	}
	plain, err := c.cipher.Decrypt(rec)
	if err != nil {
		return 0, false, nil
	}
	c.replay.mark(seq)
	body := plain[recordHeaderLen:]
	switch rec[0] {
	case contentApplicationData:
		if len(body) > len(b) {
			return 0, true, errRecordTooLong
		}
		return copy(b, body), true, nil
	case contentAlert:
		return alert(body)
	case contentHandshake:
		c.resendFinal() // the server resent its Finished
	}
	return 0, false, nil
}

// alert acts on an alert record's body.
func alert(body []byte) (int, bool, error) {
	switch {
	case len(body) != 2:
		return 0, false, nil
	case body[1] == alertCloseNotify:
		return 0, true, io.EOF
	case body[0] == alertFatal:
		return 0, true, fmt.Errorf("coap: dtls: fatal alert %d from the server", body[1])
	}
	return 0, false, nil
}

// resendFinal sends the client's final flight again, once per datagram
// of the server's resent flight, if the handshake ended with the client's
// (an abbreviated one); after a full handshake the server's flight was
// the last, and nothing is resent.
func (c *recordConn) resendFinal() {
	if c.resent {
		return
	}
	c.resent = true
	for _, d := range c.final {
		c.raw.Write(d)
	}
}

// Close sends close_notify, under a deadline, and closes the socket.
func (c *recordConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	c.send(&alertCloseNotifyContent{})
	return c.raw.Close()
}

// alertCloseNotifyContent is a warning-level close_notify alert.
type alertCloseNotifyContent struct{}

func (*alertCloseNotifyContent) ContentType() protocol.ContentType { return contentAlert }
func (*alertCloseNotifyContent) Marshal() ([]byte, error)          { return []byte{1, alertCloseNotify}, nil }
func (*alertCloseNotifyContent) Unmarshal([]byte) error            { return nil }

// LocalAddr returns the socket's local address.
func (c *recordConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the server's address.
func (c *recordConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the socket's deadlines.
func (c *recordConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline.
func (c *recordConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline.
func (c *recordConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// replayWindow is RFC 6347 §4.1.2.6's sliding window over the last 64
// record sequence numbers.
type replayWindow struct {
	top  uint64 // the highest sequence number seen
	seen uint64 // bit i: top-i was seen
	any  bool
}

// fresh reports a sequence number not seen and not too old.
func (w *replayWindow) fresh(seq uint64) bool {
	switch {
	case !w.any || seq > w.top:
		return true
	case w.top-seq >= 64:
		return false
	}
	return w.seen&(1<<(w.top-seq)) == 0
}

// mark records a sequence number whose record opened.
func (w *replayWindow) mark(seq uint64) {
	switch {
	case !w.any:
		w.top, w.seen, w.any = seq, 1, true
	case seq > w.top:
		shift := seq - w.top
		if shift >= 64 {
			w.seen = 0
		} else {
			w.seen <<= shift
		}
		w.top = seq
		w.seen |= 1
	default:
		w.seen |= 1 << (w.top - seq)
	}
}
