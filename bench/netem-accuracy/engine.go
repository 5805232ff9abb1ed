package main

import (
	"context"
	"net"

	"github.com/m2msim/m2msim/transports/kernel"
	"github.com/m2msim/m2msim/transports/netem"
)

// engine is one measurement's network: an echo server's socket, shaped
// device sockets, and whatever runs the shaping.
type engine interface {
	server() (net.PacketConn, error)
	device(i int) (net.PacketConn, error)
	run(ctx context.Context) error
	stats() netem.Stats
	close() error
}

// opener makes an engine for one run with every device on link.
type opener func(c config, link netem.Link) (engine, error)

var engineByName = map[string]opener{"socket": openSocket, "wire": openWire}

// socketEngine is the in-socket shaper on 127.0.0.1.
type socketEngine struct {
	s    *netem.Shaper
	link netem.Link
}

func openSocket(c config, link netem.Link) (engine, error) {
	return &socketEngine{s: netem.NewShaper(c.shards), link: link}, nil
}

func (e *socketEngine) server() (net.PacketConn, error) {
	return net.ListenPacket("udp", "127.0.0.1:0")
}

func (e *socketEngine) device(i int) (net.PacketConn, error) {
	sock, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return e.s.PacketConn(sock, e.link, 1, i), nil
}

func (e *socketEngine) run(ctx context.Context) error { return e.s.Run(ctx) }
func (e *socketEngine) stats() netem.Stats            { return e.s.Stats() }
func (e *socketEngine) close() error                  { return nil }

// wireEngine is the packet wire between namespaces: plain sockets, each
// device on its own address, shaped per packet between two TUNs.
type wireEngine struct{ w *kernel.Wire }

func openWire(c config, link netem.Link) (engine, error) {
	w, err := kernel.Open(kernel.Config{Link: func(int) netem.Link { return link }, Seed: 1, Shards: c.shards})
	if err != nil {
		return nil, err
	}
	return &wireEngine{w: w}, nil
}

func (e *wireEngine) server() (net.PacketConn, error) {
	return e.w.ListenPacketServer("udp4", net.JoinHostPort(e.w.ServerAddr().String(), "0"))
}

func (e *wireEngine) device(i int) (net.PacketConn, error) { return e.w.ListenPacket(i, 0) }
func (e *wireEngine) run(ctx context.Context) error        { return e.w.Run(ctx) }
func (e *wireEngine) stats() netem.Stats                   { return e.w.Stats() }
func (e *wireEngine) close() error                         { return e.w.Close() }
