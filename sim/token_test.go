package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var allKinds = []TokenKind{TokenTelemetry, TokenCommand, TokenReply, TokenRequest, TokenAnswer}

// maxIntended is the largest Intended a token carries: 10 hex digits of
// microseconds, about 12.7 days.
const maxIntended = (1<<40 - 1) * time.Microsecond

func TestTokenRoundTrip(t *testing.T) {
	var toks []Token
	for _, k := range allKinds {
		toks = append(toks,
			Token{Kind: k},
			Token{Kind: k, Device: 1, Seq: 2, Intended: 3 * time.Microsecond},
			Token{Kind: k, Device: 1<<24 - 1, Seq: math.MaxUint32, Intended: maxIntended},
			Token{Kind: k, Device: 0x123456, Seq: 0x89abcdef, Intended: 12 * 24 * time.Hour},
		)
	}
	for _, tok := range toks {
		enc := tok.Append(nil)
		if len(enc) != TokenLen || !bytes.HasPrefix(enc, []byte("m2m"+string(rune(tok.Kind)))) {
			t.Errorf("%+v.Append(nil) = %q, want %d bytes starting m2m%c", tok, enc, TokenLen, tok.Kind)
		}
		if got, ok := FindToken(enc); !ok || got != tok {
			t.Errorf("FindToken(%q) = %+v, %v, want %+v, true", enc, got, ok, tok)
		}
		payload := tok.Append([]byte("prefix "))
		if got, off, ok := findToken(payload); !ok || got != tok || off != 7 {
			t.Errorf("findToken(%q) = %+v, %d, %v, want %+v, 7, true", payload, got, off, ok, tok)
		}
	}
}

func TestTokenIntendedTruncatesToMicroseconds(t *testing.T) {
	tok := Token{Kind: TokenTelemetry, Intended: 1500 * time.Nanosecond}
	if got, _ := FindToken(tok.Append(nil)); got.Intended != time.Microsecond {
		t.Errorf("FindToken(Append(Intended 1.5µs)).Intended = %v, want 1µs", got.Intended)
	}
}

func TestTokenLen(t *testing.T) {
	for _, k := range allKinds {
		if n := len(Token{Kind: k, Device: 1<<24 - 1, Seq: math.MaxUint32}.Append(nil)); n != TokenLen {
			t.Errorf("len(Token{Kind: %c}.Append(nil)) = %d, want TokenLen %d", k, n, TokenLen)
		}
	}
	if TokenLen != 28 {
		t.Errorf("TokenLen = %d, want 28", TokenLen)
	}
}

func TestTokenInJSON(t *testing.T) {
	tok := Token{Kind: TokenCommand, Device: 77, Seq: 12, Intended: 3 * time.Second}
	payload := fmt.Appendf(nil, `{"m":"m2m","ts":1,"tok":"%s","v":[1,2]}`, tok.Append(nil))
	if !json.Valid(payload) {
		t.Fatalf("payload %q is not valid JSON", payload)
	}
	if got, ok := FindToken(payload); !ok || got != tok {
		t.Errorf("FindToken(%q) = %+v, %v, want %+v, true", payload, got, ok, tok)
	}
}

func TestTokenNotFound(t *testing.T) {
	good := string(Token{Kind: TokenTelemetry, Device: 0xabc, Seq: 9, Intended: time.Second}.Append(nil))
	hex24 := good[4:]
	cases := []string{
		"",
		"m2m",
		"hello, world",
		"m2mt" + hex24[:23],
		"m2mt" + hex24[:23] + `"`,
		"m2mt" + strings.ToUpper(hex24[:5]) + "A" + hex24[6:],
		"m2mx" + hex24,
		"m2mT" + hex24,
		"m2m " + hex24,
		"M2Mt" + hex24,
		"m2 mt" + hex24,
		"m2mt" + hex24[:10] + "g" + hex24[11:],
		"m2mt" + hex24[:23] + "-",
		strings.Repeat("m2m", 20),
	}
	for _, s := range cases {
		if got, ok := FindToken([]byte(s)); ok {
			t.Errorf("FindToken(%q) = %+v, true, want not found", s, got)
		}
	}
}

func TestTokenBadCandidateThenGood(t *testing.T) {
	tok := Token{Kind: TokenReply, Device: 5, Seq: 6, Intended: 7 * time.Millisecond}
	good := string(tok.Append(nil))
	other := string(Token{Kind: TokenAnswer, Device: 1}.Append(nil))
	cases := []struct {
		payload string
		off     int
	}{
		{"m2mx" + good[4:] + good, TokenLen},
		{"m2mt0123456789" + good, 14},
		{"m2" + good, 2},
		{"m2m" + good, 3},
		{"m2mr" + good, 4},
		{good + other, 0},
		{"xx" + good + "m2mt", 2},
	}
	for _, c := range cases {
		got, off, ok := findToken([]byte(c.payload))
		if !ok || got != tok || off != c.off {
			t.Errorf("findToken(%q) = %+v, %d, %v, want %+v, %d, true", c.payload, got, off, ok, tok, c.off)
		}
	}
}

func TestTokenRekind(t *testing.T) {
	tok := Token{Kind: TokenRequest, Device: 9, Seq: 10, Intended: time.Minute}
	payload := make([]byte, 0, 128) // spare capacity: rekind must still copy
	payload = tok.Append(append(payload, `{"a":"`...))
	payload = append(payload, `"}`...)
	orig := bytes.Clone(payload)
	_, off, _ := findToken(payload)

	out := rekind(payload, off, TokenAnswer)
	if !bytes.Equal(payload, orig) {
		t.Fatalf("rekind changed its input to %q, want %q", payload, orig)
	}
	if len(out) != len(payload) {
		t.Fatalf("rekind(%q) has length %d, want %d", payload, len(out), len(payload))
	}
	for i := range out {
		if want := i == off+3; (out[i] != payload[i]) != want {
			t.Errorf("rekind(%q)[%d] = %q, input %q: want a change only at the kind byte %d", payload, i, out[i], payload[i], off+3)
		}
	}
	want := tok
	want.Kind = TokenAnswer
	if got, ok := FindToken(out); !ok || got != want {
		t.Errorf("FindToken(rekind(...)) = %+v, %v, want %+v, true", got, ok, want)
	}
	out[0] = 'X'
	if payload[0] != '{' {
		t.Errorf("rekind result aliases its input: writing out[0] changed payload to %q", payload)
	}
}

// shortAt is an oracle independent of decodeShort: whether b holds a
// well-formed short token at o. The kind index, which must be below 5, is
// the top 3 of the first digit's 6 bits.
func shortAt(b []byte, o int) bool {
	if o+ShortTokenLen > len(b) || b[o] != '~' {
		return false
	}
	for _, c := range b[o+1 : o+ShortTokenLen] {
		if !strings.ContainsRune(shortDigits, rune(c)) {
			return false
		}
	}
	return strings.IndexByte(shortDigits, b[o+1])>>3 < 5
}

// tokenAt is an oracle independent of decodeToken: whether b holds a
// well-formed token at o.
func tokenAt(b []byte, o int) bool {
	if o+TokenLen > len(b) || string(b[o:o+3]) != "m2m" || !strings.ContainsRune("tcrqa", rune(b[o+3])) {
		return false
	}
	for _, c := range b[o+4 : o+TokenLen] {
		if !strings.ContainsRune("0123456789abcdef", rune(c)) {
			return false
		}
	}
	return true
}

func FuzzFindToken(f *testing.F) {
	good := Token{Kind: TokenTelemetry, Device: 1<<24 - 1, Seq: math.MaxUint32, Intended: maxIntended}.Append(nil)
	f.Add([]byte(nil))
	f.Add(good)
	f.Add(append([]byte("m2mx"), good...))
	f.Add(append([]byte("m2"), good[:TokenLen-1]...))
	f.Add([]byte(`{"k":"` + string(good) + `"}`))
	f.Add(bytes.ToUpper(good))
	short := Token{Kind: TokenAnswer, Device: ShortMaxDevices - 1, Seq: shortSeqMask}.AppendShort(nil)
	f.Add(short)
	f.Add(append([]byte("~~"), short...))
	f.Add([]byte("~_______"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, off, ok := findToken(b)
		want, short := -1, false
		for o := range b {
			if tokenAt(b, o) {
				want = o
				break
			}
		}
		for o := range b {
			if want < 0 && shortAt(b, o) {
				want, short = o, true
				break
			}
		}
		if ok != (want >= 0) || (ok && off != want) {
			t.Fatalf("findToken(%q) = %d, %v, want the first token (or short token: %v), at %d", b, off, ok, short, want)
		}
		if !ok {
			return
		}
		if short {
			if enc := tok.AppendShort(nil); !bytes.Equal(enc, b[off:off+ShortTokenLen]) || tok.Intended != -1 {
				t.Fatalf("findToken(%q) = %+v at %d, which encodes to %q, want %q and Intended -1", b, tok, off, enc, b[off:off+ShortTokenLen])
			}
			return
		}
		if enc := tok.Append(nil); !bytes.Equal(enc, b[off:off+TokenLen]) {
			t.Fatalf("findToken(%q) = %+v at %d, which encodes to %q, want %q", b, tok, off, enc, b[off:off+TokenLen])
		}
		if pub, pok := FindToken(b); !pok || pub != tok {
			t.Fatalf("FindToken(%q) = %+v, %v, want %+v, true", b, pub, pok, tok)
		}
	})
}

func TestShortTokenRoundTrip(t *testing.T) {
	for _, k := range allKinds {
		for _, dev := range []uint32{0, 1, 12345, ShortMaxDevices - 1} {
			for _, seq := range []uint32{0, 1, 777, shortSeqMask, shortSeqMask + 5} {
				in := Token{Kind: k, Device: dev, Seq: seq, Intended: time.Hour}
				b := in.AppendShort([]byte("x"))[1:]
				if len(b) != ShortTokenLen || b[0] != '~' {
					t.Fatalf("AppendShort(%+v) = %q, want 8 bytes from '~'", in, b)
				}
				got, off, ok := findToken(append([]byte(`{"v":1,"m":"`), append(b, '"', '}')...))
				want := Token{Kind: k, Device: dev, Seq: seq & shortSeqMask, Intended: -1}
				if !ok || off != 12 || got != want {
					t.Errorf("short %q decodes to %+v at %d, %v; want %+v at 12", b, got, off, ok, want)
				}
			}
		}
	}
}

func TestShortTokenNotFound(t *testing.T) {
	good := string(Token{Kind: TokenReply, Device: 9, Seq: 3}.AppendShort(nil))
	for _, s := range []string{"", "~", good[:7], "~ABC DEF", "~ABCDEF=", "0" + good[1:], "~" + "_______", "~" + "u______"} {
		if got, ok := FindToken([]byte(s)); ok {
			t.Errorf("FindToken(%q) = %+v, true; want not found", s, got)
		}
	}
	// A full token wins over a short one anywhere in the payload.
	full := Token{Kind: TokenTelemetry, Device: 1, Seq: 2, Intended: time.Second}
	if got, ok := FindToken([]byte(good + " " + string(full.Append(nil)))); !ok || got != full {
		t.Errorf("FindToken(short, full) = %+v, %v; want the full token", got, ok)
	}
}

func TestShortTokenRekind(t *testing.T) {
	tok := Token{Kind: TokenCommand, Device: 4242, Seq: 99}
	payload := append([]byte("ab"), tok.AppendShort(nil)...)
	out := rekind(payload, 2, TokenReply)
	got, off, ok := findToken(out)
	if !ok || off != 2 || got.Kind != TokenReply || got.Device != 4242 || got.Seq != 99 || string(out[:2]) != "ab" {
		t.Errorf("rekind(%q) = %q decoding to %+v at %d, %v; want a reply of device 4242 seq 99 at 2", payload, out, got, off, ok)
	}
	if payload[2] != '~' || bytes.Equal(payload, out) {
		t.Errorf("rekind changed its input or nothing: in %q, out %q", payload, out)
	}
}

// Stamps resolve a short token's low 18 bits to the latest full sequence
// number with them, per flow; a ring forgets the oldest.
func TestStamps(t *testing.T) {
	var s stamps
	s.put(TokenTelemetry, 5, time.Second)
	s.put(TokenTelemetry, 5+shortSeqMask+1, 2*time.Second) // same low bits, later
	s.put(TokenCommand, 5, 3*time.Second)
	if seq, at, ok := s.get(TokenTelemetry, 5); !ok || seq != 5+shortSeqMask+1 || at != 2*time.Second {
		t.Errorf("get(t, 5) = %d, %v, %v; want the later message", seq, at, ok)
	}
	if seq, at, ok := s.get(TokenReply, 5); !ok || seq != 5 || at != 3*time.Second {
		t.Errorf("get(reply, 5) = %d, %v, %v; want the command's stamp", seq, at, ok)
	}
	if _, _, ok := s.get(TokenAnswer, 5); ok {
		t.Errorf("get(answer, 5) found a stamp; no request was sent")
	}
	for i := range uint32(len(s.tele)) {
		s.put(TokenTelemetry, 100+i, 0)
	}
	if _, _, ok := s.get(TokenTelemetry, 5); ok {
		t.Errorf("a telemetry stamp survived %d newer ones", len(s.tele))
	}
	var none *stamps
	if _, _, ok := none.get(TokenTelemetry, 1); ok {
		t.Errorf("nil stamps found something")
	}
}
