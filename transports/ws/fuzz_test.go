package ws_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/m2msim/m2msim/transports/ws"
)

// FuzzRead feeds arbitrary bytes to a client as the server's frames after
// the upgrade: reading ends with data or an error, never a panic or a
// hang, and never yields more bytes than were sent. The server is a fake
// at the end of a net.Pipe, so the fuzzer does not run out of ports.
func FuzzRead(f *testing.F) {
	f.Add([]byte{0x82, 0x04, 0x40, 0x02, 0x00, 0x01})                         // binary: a PUBACK
	f.Add([]byte{0x02, 0x02, 0x40, 0x02, 0x80, 0x02, 0x00, 0x01})             // fragmented
	f.Add([]byte{0x89, 0x00, 0x82, 0x02, 0xd0, 0x00})                         // ping, then binary
	f.Add([]byte{0x81, 0x02, 'h', 'i'})                                       // text
	f.Add([]byte{0x88, 0x02, 0x03, 0xe8})                                     // close 1000
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // absurd length
	f.Add([]byte{0x82, 0x84, 1, 2, 3, 4, 0x41, 0x00, 0x03, 0x05})             // masked by the server
	f.Fuzz(func(t *testing.T, data []byte) {
		d := func(context.Context, string, string) (net.Conn, error) {
			client, srv := net.Pipe()
			go fakeServer(srv, data)
			return client, nil
		}
		c, err := ws.Dial(t.Context(), d, "ws://fuzz.invalid/mqtt", ws.Options{})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		total := 0
		buf := make([]byte, 64)
		for range len(data) + 2 {
			n, err := c.Read(buf)
			total += n
			if err != nil {
				break
			}
		}
		if total > len(data) {
			t.Fatalf("read %d bytes from %d sent", total, len(data))
		}
	})
}

// fakeServer answers one upgrade request on c with subprotocol mqtt,
// sends data as if it were frames, discarding what the client sends, and
// hangs up.
func fakeServer(c net.Conn, data []byte) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
	go io.Copy(io.Discard, c) // pongs and the close frame; ends when c closes
	c.Write(data)
}

// FuzzParseURL checks ParseURL never panics and accepts only ws(s)://
// URLs with a host.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"ws://127.0.0.1:8080/mqtt", "wss://h/", "ws://", "http://h", "ws:opaque", "ws://[::1]:1/x?y#z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ws.ParseURL(s)
		if err != nil {
			return
		}
		if (u.Scheme != "ws" && u.Scheme != "wss") || u.Hostname() == "" {
			t.Errorf("ParseURL(%q) accepted scheme %q host %q", s, u.Scheme, u.Hostname())
		}
	})
}
