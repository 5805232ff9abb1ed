package coap

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// ParseBlock decodes the value of a Block1 or Block2 option (RFC 7959
// §2.2): an unsigned integer of up to 3 bytes holding the block number,
// the More flag and the size exponent. It returns a *FormatError for a
// longer value or the reserved size exponent 7.
func ParseBlock(v []byte) (Block, error) {
	if len(v) > 3 {
		return Block{}, formatErr("block option of %d bytes", len(v))
	}
	var n uint32
	for _, b := range v {
		n = n<<8 | uint32(b)
	}
	b := Block{Num: n >> 4, More: n&8 != 0, SZX: uint8(n & 7)}
	if b.SZX == 7 {
		return Block{}, formatErr("block option with the reserved size exponent 7")
	}
	return b, nil
}

// appendBlock appends b's option value in the fewest bytes.
func appendBlock(dst []byte, b Block) []byte {
	v := b.Num<<4 | uint32(b.SZX&7)
	if b.More {
		v |= 8
	}
	return appendUint(dst, v)
}

// blockOf returns m's option id as a Block, whether m has one, and an
// error for one that does not parse.
func blockOf(m *Message, id OptionID) (Block, bool, error) {
	v, ok := m.Option(id)
	if !ok {
		return Block{}, false, nil
	}
	b, err := ParseBlock(v)
	return b, true, err
}

// szxOf returns the size exponent of a block size: 16 is 0, 1024 is 6.
func szxOf(size int) (uint8, bool) {
	for szx := uint8(0); szx <= 6; szx++ {
		if 1<<(szx+4) == size {
			return szx, true
		}
	}
	return 0, false
}

// TransferOptions configures a block-wise transfer (RFC 7959): Download
// and Upload.
type TransferOptions struct {
	// BlockSize is the block size to ask for, a power of two from 16 to
	// 1024 bytes. 0: a download lets the server choose and an upload
	// uses 1024. A server may ask for smaller blocks (a Block option
	// with a smaller size in its response); the transfer goes on with
	// its size.
	BlockSize int
	// MaxBody bounds the body a download assembles (default 1 MiB): past
	// it, or when the server declares a larger size (Size2), the
	// download ends with a *BodyTooLargeError. Nothing is assembled, and
	// there is no bound, when Block is set.
	MaxBody int
	// Block is called after each block the server answered: a
	// downloaded block with its data, or an uploaded one the server
	// accepted with the data sent. It runs as done callbacks do; payload
	// is valid only during the call.
	Block func(p Progress, payload []byte)
}

// DefaultMaxBody is TransferOptions.MaxBody's default.
const DefaultMaxBody = 1 << 20

// Progress is how far a block-wise transfer has come.
type Progress struct {
	Blocks int   // blocks answered by the server, across restarts
	Bytes  int64 // body bytes transferred and accepted
	// Size is the body's size: the upload's, or the one the server
	// declared for a download (Size2); -1 when unknown.
	Size int64
	// Transmissions counts the datagrams that carried the transfer's
	// requests, retransmissions included.
	Transmissions int
	// Sent is when the first block was first sent, after any wait in
	// the session's queue; Elapsed runs from it to the latest answer.
	Sent    time.Time
	Elapsed time.Duration
}

// TransferResult is how a block-wise transfer ended, given to the done
// callback of Download and Upload.
type TransferResult struct {
	// Response is the final response, the caller's to keep; nil when
	// Err is set. An error response (4.04) ends a transfer as a
	// response, not as Err. After a download its Payload is the whole
	// body, nil when TransferOptions.Block took the blocks.
	Response *Message
	// Err is why the transfer failed: a block exchange's error (a
	// *TimeoutError, a *ResetError...), a *BlockError, a
	// *BodyTooLargeError, or the error of starting the next block's
	// exchange.
	Err error
	Progress
}

// BlockError ends a block-wise transfer the server did not follow
// through: a block out of sequence, a representation that changed under
// a download (another ETag), a Continue to the last block. Match it with
// errors.As and a *BlockError target.
type BlockError struct {
	Reason string
}

// Error says what went wrong.
func (e *BlockError) Error() string { return "coap: block-wise transfer: " + e.Reason }

// Kind returns "block".
func (e *BlockError) Kind() string { return "block" }

// BodyTooLargeError ends a download whose body exceeds
// TransferOptions.MaxBody. Match it with errors.As and a
// *BodyTooLargeError target.
type BodyTooLargeError struct {
	Limit int
	Size  int64 // the size declared (Size2) or reached
}

// Error gives the size and the limit.
func (e *BodyTooLargeError) Error() string {
	return "coap: body of " + strconv.FormatInt(e.Size, 10) + " bytes exceeds the limit of " + strconv.Itoa(e.Limit)
}

// Kind returns "body_too_large".
func (e *BodyTooLargeError) Kind() string { return "body_too_large" }

// transfer is one Download or Upload: it sends one block at a time
// through Start, the next from the previous one's done callback, so
// retransmission, NSTART and the queue apply to every block.
type transfer struct {
	s      *Session
	up     bool     // Block1 upload, else Block2 download
	req    *Message // the request; its Block option and payload set per block
	body   []byte   // upload: the body to send; download: the body assembled
	o      TransferOptions
	done   func(TransferResult)
	answer func(Result) // t.onAnswer, made once
	szx    uint8
	plain  bool // an upload that fits one block: sent without Block1
	off    int  // body bytes the server accepted (upload) or sent (download)
	n      int  // the upload's current block: bytes sent
	etag   []byte
	final  *Message
	p      Progress
	optBuf [4]byte
}

// Download sends req and fetches the body of its response block by
// block (RFC 7959 Block2): each response announcing more blocks is
// followed by the request for the next, one at a time, each an exchange
// like Start's (retransmitted, counted against NSTART). A response
// without a Block2 option is the whole body. The blocks of a transfer
// share one token: req's, or one the session draws. done is called once
// with the assembled body or why the transfer ended, as Start's done is:
// on the reader or timer goroutine, never the caller's. Download keeps
// no reference to req. It refuses as Start does, and with ErrInvalid for
// a BlockSize that is no block size.
func (s *Session) Download(req *Message, o TransferOptions, done func(TransferResult)) error {
	t, err := s.newTransfer(req, o, done, false)
	if err != nil {
		return err
	}
	if o.BlockSize == 0 {
		return t.send() // the server picks the size
	}
	return t.sendBlock(Block2, Block{SZX: t.szx})
}

// Upload sends req with its payload block by block (RFC 7959 Block1):
// blocks of BlockSize, or as the server asks; a payload that fits one
// block goes in a plain request. It honours 2.31 Continue (and a smaller
// size it asks for), and 4.13 Request Entity Too Large with a Block1
// option of a smaller size by starting again with that size. The last
// block's response ends the transfer. Blocks share one token, like
// Download's, and done is called as Download's; with a Size1 option
// each block announces the body's size.
func (s *Session) Upload(req *Message, o TransferOptions, done func(TransferResult)) error {
	t, err := s.newTransfer(req, o, done, true)
	if err != nil {
		return err
	}
	t.p.Size = int64(len(t.body))
	return t.sendUpload()
}

// newTransfer checks the options and fixes the transfer's token.
func (s *Session) newTransfer(req *Message, o TransferOptions, done func(TransferResult), up bool) (*transfer, error) {
	szx := uint8(6)
	if o.BlockSize != 0 {
		var ok bool
		if szx, ok = szxOf(o.BlockSize); !ok {
			return nil, fmt.Errorf("%w: block size %d", ErrInvalid, o.BlockSize)
		}
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if done == nil || !req.Code.IsRequest() {
		return nil, fmt.Errorf("%w: block-wise %v", ErrInvalid, req)
	}
	t := &transfer{s: s, up: up, req: req.Clone(), o: o, done: done, szx: szx, p: Progress{Size: -1}}
	t.answer = t.onAnswer
	if up {
		t.body, t.req.Payload = t.req.Payload, nil
	}
	if len(t.req.Token) == 0 {
		t.req.Token = make([]byte, 4)
		s.mu.Lock()
		s.newToken(t.req.Token)
		s.mu.Unlock()
	}
	return t, nil
}

// send starts the exchange of t.req as it stands.
func (t *transfer) send() error { return t.s.Start(t.req, t.answer) }

// sendBlock sets t.req's Block option id to b and sends it.
func (t *transfer) sendBlock(id OptionID, b Block) error {
	setOption(t.req, id, appendBlock(t.optBuf[:0], b))
	return t.send()
}

// setOption replaces the first option id with value, or adds it.
func setOption(m *Message, id OptionID, value []byte) {
	for i := range m.Options {
		if m.Options[i].ID == id {
			m.Options[i].Value = value
			return
		}
	}
	m.AddOption(id, value)
}

// sendUpload sends the upload's next block, or the whole body in a plain
// request when it fits one block and no Block1 exchange has begun.
func (t *transfer) sendUpload() error {
	size := 1 << (t.szx + 4)
	if t.off == 0 && len(t.body) <= size && !t.plain && t.p.Blocks == 0 {
		t.plain = true
		t.n = len(t.body)
		t.req.Payload = t.body
		return t.send()
	}
	t.plain = false
	t.n = min(size, len(t.body)-t.off)
	t.req.Payload = t.body[t.off : t.off+t.n]
	if t.off == 0 {
		t.req.SetUint(Size1, uint32(len(t.body)))
	}
	return t.sendBlock(Block1, Block{Num: uint32(t.off / size), More: t.off+t.n < len(t.body), SZX: t.szx})
}

// onAnswer is every block exchange's done callback.
func (t *transfer) onAnswer(r Result) {
	t.p.Transmissions += r.Transmissions
	if t.p.Sent.IsZero() {
		t.p.Sent = r.Sent
	}
	if !t.p.Sent.IsZero() {
		t.p.Elapsed = time.Since(t.p.Sent)
	}
	if r.Err != nil {
		t.end(r.Err)
		return
	}
	var fin bool
	var err error
	if t.up {
		fin, err = t.uploaded(r.Response)
	} else {
		fin, err = t.downloaded(r.Response)
	}
	switch {
	case err != nil:
	case fin:
		t.final = r.Response.Clone()
	case t.up:
		err = t.sendUpload()
	default:
		err = t.sendBlock(Block2, Block{Num: uint32(t.off >> (t.szx + 4)), SZX: t.szx})
	}
	if err != nil || fin {
		t.end(err)
	}
}

// end calls done with the final response or err.
func (t *transfer) end(err error) {
	res := TransferResult{Err: err, Progress: t.p}
	if err == nil {
		res.Response = t.final
		if !t.up {
			res.Response.Payload = t.body
		}
	}
	t.done(res)
}

// downloaded takes one block of a download; true when it was the last.
func (t *transfer) downloaded(m *Message) (bool, error) {
	if m.Code.Class() != 2 {
		return true, nil // an error response ends the transfer
	}
	b, has, err := blockOf(m, Block2)
	switch {
	case err != nil:
		return false, &BlockError{Reason: "response to block " + strconv.Itoa(t.p.Blocks) + ": " + err.Error()}
	case !has && t.off > 0:
		return false, &BlockError{Reason: "a response without Block2 after " + strconv.Itoa(t.off) + " bytes"}
	case !has:
		return true, t.collect(m.Payload)
	case int(b.Num)<<(b.SZX+4) != t.off:
		return false, &BlockError{Reason: fmt.Sprintf("block %d of %d bytes, want the one at byte %d", b.Num, b.Size(), t.off)}
	case b.More && len(m.Payload) != b.Size():
		return false, &BlockError{Reason: fmt.Sprintf("block %d carries %d bytes, not %d", b.Num, len(m.Payload), b.Size())}
	}
	if err := t.checkETag(m); err != nil {
		return false, err
	}
	if t.off == 0 {
		if err := t.declared(m); err != nil {
			return false, err
		}
	}
	if err := t.collect(m.Payload); err != nil {
		return false, err
	}
	t.szx = min(t.szx, b.SZX)
	return !b.More, nil
}

// checkETag fails a download whose representation changed between
// blocks: blocks of two versions do not make a body.
func (t *transfer) checkETag(m *Message) error {
	tag, _ := m.Option(ETag)
	if t.off == 0 {
		t.etag = bytes.Clone(tag)
		return nil
	}
	if !bytes.Equal(tag, t.etag) {
		return &BlockError{Reason: fmt.Sprintf("ETag %x after %x: the representation changed during the transfer", tag, t.etag)}
	}
	return nil
}

// declared takes the size the first block's response declares (Size2).
func (t *transfer) declared(m *Message) error {
	n, ok := m.Uint(Size2)
	if !ok {
		return nil
	}
	t.p.Size = int64(n)
	if t.o.Block != nil {
		return nil
	}
	if int64(n) > int64(t.o.MaxBody) {
		return &BodyTooLargeError{Limit: t.o.MaxBody, Size: int64(n)}
	}
	t.body = make([]byte, 0, n)
	return nil
}

// collect takes a downloaded block's data.
func (t *transfer) collect(payload []byte) error {
	t.off += len(payload)
	t.p.Blocks++
	t.p.Bytes = int64(t.off)
	if t.o.Block != nil {
		t.o.Block(t.p, payload)
		return nil
	}
	if t.off > t.o.MaxBody {
		return &BodyTooLargeError{Limit: t.o.MaxBody, Size: int64(t.off)}
	}
	t.body = append(t.body, payload...)
	return nil
}

// uploaded takes the response to an uploaded block; true when it ends
// the transfer.
func (t *transfer) uploaded(m *Message) (bool, error) {
	b, has, err := blockOf(m, Block1)
	if err != nil {
		return false, &BlockError{Reason: "response to block " + strconv.Itoa(t.p.Blocks) + ": " + err.Error()}
	}
	if m.Code == RequestEntityTooLarge && has && (b.SZX < t.szx || t.plain) {
		// The server wants smaller blocks (RFC 7959 §2.9.3): start again.
		t.p.Blocks++
		t.szx, t.off, t.p.Bytes, t.plain = b.SZX, 0, 0, false
		t.req.RemoveOption(Block1)
		return false, nil
	}
	switch {
	case m.Code.Class() != 2:
		return true, nil
	case t.plain:
		t.accepted()
		return true, nil
	case has && int(b.Num)<<(t.szx+4) != t.off && int(b.Num)<<(b.SZX+4) != t.off:
		// Neither an echo of the block number nor its number in the
		// server's smaller size.
		return false, &BlockError{Reason: fmt.Sprintf("response for block %d to block %d", b.Num, t.off>>(t.szx+4))}
	}
	t.accepted()
	last := t.off == len(t.body)
	switch {
	case m.Code == Continue && last:
		return false, &BlockError{Reason: "2.31 Continue to the last block"}
	case has && b.SZX < t.szx:
		t.szx = b.SZX // late negotiation (RFC 7959 §2.3): the next number counts smaller blocks
	}
	// Not 2.31 before the last block: a server that applies blocks as
	// they come (RFC 7959 §2.5) answers each with 2.04.
	return last, nil
}

// accepted records the block just answered as taken.
func (t *transfer) accepted() {
	chunk := t.body[t.off : t.off+t.n]
	t.off += t.n
	t.p.Blocks++
	t.p.Bytes = int64(t.off)
	if t.o.Block != nil {
		t.o.Block(t.p, chunk)
	}
}
