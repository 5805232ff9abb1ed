// Command wsviewer is a live-view viewer for benchmarks: it connects to
// an m2msim live view's websocket and reads every frame until the run
// ends, printing how many frames and bytes it read. It never renders, so
// what it costs m2msim is what one browser costs it.
//
//	wsviewer http://127.0.0.1:PORT/
package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wsviewer LIVE-VIEW-URL")
		os.Exit(2)
	}
	u, err := url.Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsviewer:", err)
		os.Exit(2)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/ws"
	c, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsviewer:", err)
		os.Exit(1)
	}
	defer c.Close()
	var frames, bytes int
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		_, b, err := c.ReadMessage()
		if err != nil {
			break
		}
		frames++
		bytes += len(b)
	}
	fmt.Printf("wsviewer: %d frames, %d bytes\n", frames, bytes)
}
