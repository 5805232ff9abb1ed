package netem_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

func ExampleParseProfile() {
	p, err := netem.ParseProfile("delay 600ms 200ms distribution normal loss gemodel 0.68% 33% rate 64kbit")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Delay, p.Jitter, p.Distribution, p.Loss.Model, p.Rate)
	fmt.Println(p.Validate())
	fmt.Println(p)
	// Output:
	// 600ms 200ms normal gemodel 64kbit
	// <nil>
	// delay 600ms 200ms distribution normal loss gemodel 0.68% 33% rate 64kbit
}

// A device's UDP socket shaped 50 ms each way: an echo takes 100 ms more.
func ExampleShaper_PacketConn() {
	echo, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()

	s := netem.NewShaper(1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)

	sock, _ := net.ListenPacket("udp", "127.0.0.1:0")
	link := netem.Link{Up: netem.Profile{Delay: 50 * time.Millisecond}, Down: netem.Profile{Delay: 50 * time.Millisecond}}
	dev := s.PacketConn(sock, link, 42, 7) // seed 42, device 7
	defer dev.Close()

	start := time.Now()
	dev.WriteTo([]byte("ping"), echo.LocalAddr())
	buf := make([]byte, 16)
	n, _, _ := dev.ReadFrom(buf)
	fmt.Printf("%s after %v\n", buf[:n], time.Since(start).Round(10*time.Millisecond))
	// Output: ping after 100ms
}
