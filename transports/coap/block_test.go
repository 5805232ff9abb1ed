package coap

import (
	"bytes"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestParseBlock decodes block option values (RFC 7959 §2.2).
func TestParseBlock(t *testing.T) {
	for _, c := range []struct {
		hex  []byte
		want Block
		err  bool
	}{
		{nil, Block{}, false},
		{[]byte{0x0e}, Block{More: true, SZX: 6}, false},
		{[]byte{0x16}, Block{Num: 1, SZX: 6}, false},
		{[]byte{0x03, 0x12}, Block{Num: 49, SZX: 2}, false},
		{[]byte{0xff, 0xff, 0xfe}, Block{Num: 1<<20 - 1, More: true, SZX: 6}, false},
		{[]byte{0x07}, Block{}, true},                    // SZX 7 is reserved
		{[]byte{0, 0, 0, 0x10}, Block{}, true},           // over 3 bytes
		{[]byte{0x00, 0x00, 0x10}, Block{Num: 1}, false}, // leading zeros parse
	} {
		got, err := ParseBlock(c.hex)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("ParseBlock(%x) = %+v, %v, want %+v (error %v)", c.hex, got, err, c.want, c.err)
		}
		var fe *FormatError
		if c.err && !errors.As(err, &fe) {
			t.Errorf("ParseBlock(%x) error %v, want a *FormatError", c.hex, err)
		}
	}
}

// fakeServer answers the session's next requests on c with h, checking
// that every request carries the token of the first.
func fakeServer(t *testing.T, c *fakeConn, n int, h func(req *Message) *Message) []Message {
	t.Helper()
	var reqs []Message
	for range n {
		req, _ := c.recv(t, time.Minute)
		if len(reqs) > 0 && !bytes.Equal(req.Token, reqs[0].Token) {
			t.Errorf("request %d has token %x, the first %x", len(reqs), req.Token, reqs[0].Token)
		}
		reqs = append(reqs, req)
		resp := h(&req)
		resp.Type, resp.MessageID, resp.Token = Acknowledgement, req.MessageID, req.Token
		c.send(t, resp)
	}
	return reqs
}

// blocks2 serves body in Block2 blocks of size szx whatever the client
// asks, with Size2 and ETag etag (changing to etag+1 from block change
// on, when change > 0).
func blocks2(body []byte, szx uint8, change int) func(*Message) *Message {
	return func(req *Message) *Message {
		b, _ := req.Block(Block2)
		off := int(b.Num) << (b.SZX + 4)
		size := 1 << (szx + 4)
		end := min(off+size, len(body))
		m := &Message{Code: Content, Payload: body[off:end]}
		tag := byte(1)
		if change > 0 && off/size >= change {
			tag = 2
		}
		m.AddOption(ETag, []byte{tag})
		m.SetBlock(Block2, Block{Num: uint32(off / size), More: end < len(body), SZX: szx})
		m.SetUint(Size2, uint32(len(body)))
		return m
	}
}

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// transferResults collects done callbacks of transfers.
type transferResults chan TransferResult

func (r transferResults) done(x TransferResult) { r <- x }

func (r transferResults) next(t *testing.T) TransferResult {
	t.Helper()
	select {
	case x := <-r:
		return x
	case <-time.After(10 * time.Minute):
		t.Fatal("no transfer ended")
	}
	panic("unreachable")
}

// TestDownload: a download asks for 256-byte blocks, the server answers
// in 128-byte ones, and the download goes on in the server's size
// (RFC 7959 §2.4), the blocks sharing a token.
func TestDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		want := body(300)
		r := make(transferResults, 1)
		if err := s.Download(get("/fw"), TransferOptions{BlockSize: 256}, r.done); err != nil {
			t.Fatal(err)
		}
		reqs := fakeServer(t, c, 3, blocks2(want, 3, 0))
		for i, wantB := range []Block{{SZX: 4}, {Num: 1, SZX: 3}, {Num: 2, SZX: 3}} {
			if b, ok := reqs[i].Block(Block2); !ok || b != wantB {
				t.Errorf("request %d: Block2 %+v, want %+v", i, b, wantB)
			}
		}
		x := r.next(t)
		if x.Err != nil || !bytes.Equal(x.Response.Payload, want) {
			t.Fatalf("result %+v, want the whole body", x)
		}
		if x.Blocks != 3 || x.Bytes != 300 || x.Size != 300 || x.Transmissions != 3 || x.Sent.IsZero() {
			t.Errorf("Progress = %+v", x.Progress)
		}
	})
}

// TestDownloadBlockCallback: with Block set, each block's data goes to
// it and nothing is assembled.
func TestDownloadBlockCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		want := body(2500)
		var got []byte
		var calls []Progress
		o := TransferOptions{MaxBody: 10, Block: func(p Progress, b []byte) {
			got = append(got, b...)
			calls = append(calls, p)
		}}
		r := make(transferResults, 1)
		if err := s.Download(get("/fw"), o, r.done); err != nil {
			t.Fatal(err)
		}
		reqs := fakeServer(t, c, 3, blocks2(want, 6, 0))
		if _, ok := reqs[0].Option(Block2); ok {
			t.Error("the first request has a Block2 option; without BlockSize the server chooses")
		}
		x := r.next(t)
		if x.Err != nil || x.Response.Payload != nil || !bytes.Equal(got, want) {
			t.Fatalf("result %+v with %d bytes from Block", x, len(got))
		}
		if len(calls) != 3 || calls[1].Blocks != 2 || calls[1].Bytes != 2048 || calls[2].Size != 2500 {
			t.Errorf("Block calls %+v", calls)
		}
	})
}

// TestDownloadFails: the ways a download ends other than with its body.
func TestDownloadFails(t *testing.T) {
	tooLarge := func(req *Message) *Message {
		m := blocks2(body(3000), 6, 0)(req)
		return m
	}
	for _, c := range []struct {
		name  string
		o     TransferOptions
		reqs  int
		h     func(*Message) *Message
		check func(t *testing.T, x TransferResult)
	}{
		{"ETag changed", TransferOptions{BlockSize: 64}, 3, blocks2(body(500), 2, 2), func(t *testing.T, x TransferResult) {
			var be *BlockError
			if !errors.As(x.Err, &be) || x.Blocks != 2 {
				t.Errorf("result %+v, want a *BlockError after 2 blocks", x)
			}
		}},
		{"Size2 over MaxBody", TransferOptions{MaxBody: 2048}, 1, tooLarge, func(t *testing.T, x TransferResult) {
			var tl *BodyTooLargeError
			if !errors.As(x.Err, &tl) || tl.Size != 3000 || tl.Limit != 2048 || tl.Kind() != "body_too_large" {
				t.Errorf("result %+v, want a *BodyTooLargeError", x)
			}
		}},
		{"block out of sequence", TransferOptions{}, 2, func(req *Message) *Message {
			m := blocks2(body(3000), 6, 0)(&Message{})
			return m // always block 0
		}, func(t *testing.T, x TransferResult) {
			var be *BlockError
			if !errors.As(x.Err, &be) {
				t.Errorf("result %+v, want a *BlockError", x)
			}
		}},
		{"error response", TransferOptions{}, 1, func(*Message) *Message { return &Message{Code: NotFound} },
			func(t *testing.T, x TransferResult) {
				if x.Err != nil || x.Response.Code != NotFound {
					t.Errorf("result %+v, want the 4.04", x)
				}
			}},
		{"no Block2", TransferOptions{}, 1, func(*Message) *Message { return &Message{Code: Content, Payload: []byte("small")} },
			func(t *testing.T, x TransferResult) {
				if x.Err != nil || string(x.Response.Payload) != "small" || x.Blocks != 1 {
					t.Errorf("result %+v, want the whole body in one", x)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, conn := dialFake(t, Options{})
				r := make(transferResults, 1)
				if err := s.Download(get("/fw"), c.o, r.done); err != nil {
					t.Fatal(err)
				}
				fakeServer(t, conn, c.reqs, c.h)
				c.check(t, r.next(t))
				conn.quiet(t, time.Minute)
			})
		})
	}
}

// continues answers Block1 blocks with 2.31 in size szx (2.04 to the
// last), collecting the body.
func continues(got *[]byte, szx uint8) func(*Message) *Message {
	return func(req *Message) *Message {
		b, ok := req.Block(Block1)
		if !ok {
			*got = append(*got, req.Payload...)
			return &Message{Code: Changed}
		}
		*got = append(*got, req.Payload...)
		m := &Message{Code: Continue}
		if !b.More {
			m.Code = Changed
		}
		m.SetBlock(Block1, Block{Num: b.Num, More: b.More, SZX: min(szx, b.SZX)})
		return m
	}
}

// TestUpload: an upload in 256-byte blocks to a server that answers
// with 128: the next block is number 2 of 128 bytes (RFC 7959 §2.3), and
// so on to the last; Size1 announces the body.
func TestUpload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		want := body(600)
		req := &Message{Type: Confirmable, Code: PUT, Payload: want}
		req.SetPath("/fw")
		r := make(transferResults, 1)
		if err := s.Upload(req, TransferOptions{BlockSize: 256}, r.done); err != nil {
			t.Fatal(err)
		}
		var got []byte
		reqs := fakeServer(t, c, 4, continues(&got, 3))
		for i, wantB := range []Block{{More: true, SZX: 4}, {Num: 2, More: true, SZX: 3}, {Num: 3, More: true, SZX: 3}, {Num: 4, SZX: 3}} {
			if b, _ := reqs[i].Block(Block1); b != wantB {
				t.Errorf("block %d: Block1 %+v, want %+v", i, b, wantB)
			}
		}
		if n, _ := reqs[0].Uint(Size1); n != 600 {
			t.Errorf("Size1 %d, want 600", n)
		}
		x := r.next(t)
		if x.Err != nil || x.Response.Code != Changed || !bytes.Equal(got, want) || x.Blocks != 4 || x.Bytes != 600 || x.Size != 600 {
			t.Errorf("result %+v; the server got %d bytes", x, len(got))
		}
	})
}

// TestUploadTooLarge: a plain request answered 4.13 with a Block1 of 64
// bytes starts again in 64-byte blocks (RFC 7959 §2.9.3); a 4.13
// without one ends the upload; a Continue to the last block is an error.
func TestUploadTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := dialFake(t, Options{})
		want := body(200)
		req := &Message{Type: Confirmable, Code: POST, Payload: want}
		r := make(transferResults, 1)
		if err := s.Upload(req, TransferOptions{}, r.done); err != nil {
			t.Fatal(err)
		}
		var got []byte
		next := continues(&got, 2)
		reqs := fakeServer(t, c, 5, func(m *Message) *Message {
			if _, ok := m.Option(Block1); !ok {
				a := &Message{Code: RequestEntityTooLarge}
				a.SetBlock(Block1, Block{SZX: 2})
				return a
			}
			return next(m)
		})
		if _, ok := reqs[0].Option(Block1); ok || len(reqs[0].Payload) != 200 {
			t.Errorf("first request %v, want the whole body without Block1", &reqs[0])
		}
		if x := r.next(t); x.Err != nil || x.Response.Code != Changed || !bytes.Equal(got, want) {
			t.Errorf("result %+v; the server got %d bytes", x, len(got))
		}

		s.Upload(req, TransferOptions{BlockSize: 128}, r.done)
		fakeServer(t, c, 1, func(*Message) *Message { return &Message{Code: RequestEntityTooLarge} })
		if x := r.next(t); x.Err != nil || x.Response.Code != RequestEntityTooLarge {
			t.Errorf("result %+v, want the 4.13", x)
		}

		s.Upload(req, TransferOptions{BlockSize: 128}, r.done)
		fakeServer(t, c, 2, func(m *Message) *Message {
			a := &Message{Code: Continue}
			b, _ := m.Block(Block1)
			a.SetBlock(Block1, b)
			return a
		})
		var be *BlockError
		if x := r.next(t); !errors.As(x.Err, &be) {
			t.Errorf("result %+v, want a *BlockError for a Continue to the last block", x)
		}
	})
}

// TestTransferInvalid: a block size that is none is refused at once.
func TestTransferInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := dialFake(t, Options{})
		r := make(transferResults, 1)
		for _, size := range []int{8, 100, 2048} {
			if err := s.Download(get("/fw"), TransferOptions{BlockSize: size}, r.done); !errors.Is(err, ErrInvalid) {
				t.Errorf("Download with BlockSize %d = %v, want ErrInvalid", size, err)
			}
		}
	})
}
