package server

import (
	"net/netip"
	"time"
)

// dedup remembers the devices' recent requests with the answers sent, so
// that a retransmitted Register (its ACK lost) is answered again rather
// than registered twice (RFC 7252 §4.5). Direct-mapped, as the CoAP
// server's: one slot per hash of device and message id, a newer request
// overwriting an older one in its slot; fixed memory, one comparison per
// lookup.
type dedup struct {
	e    []dedupEntry
	life time.Duration
}

type dedupEntry struct {
	from  netip.AddrPort
	at    time.Time
	reply []byte // nil: the request got no answer to repeat (a NON)
	mid   uint16
	used  bool
}

func newDedup(entries int, life time.Duration) dedup {
	n := 1
	for n < entries {
		n <<= 1
	}
	return dedup{e: make([]dedupEntry, n), life: life}
}

func (d *dedup) slot(from netip.AddrPort, mid uint16) *dedupEntry {
	h := hashAddr(from) ^ uint32(mid)*0x9e3779b1
	return &d.e[h&uint32(len(d.e)-1)]
}

// lookup reports whether (from, mid) was seen within the lifetime, with
// its answer.
func (d *dedup) lookup(from netip.AddrPort, mid uint16, now time.Time) (bool, []byte) {
	e := d.slot(from, mid)
	if !e.used || e.mid != mid || e.from != from || now.Sub(e.at) >= d.life {
		return false, nil
	}
	return true, e.reply
}

// store remembers (from, mid) and a copy of its answer.
func (d *dedup) store(from netip.AddrPort, mid uint16, now time.Time, reply []byte) {
	e := d.slot(from, mid)
	e.from, e.mid, e.at, e.used = from, mid, now, true
	if reply == nil {
		e.reply = nil
		return
	}
	e.reply = append(e.reply[:0], reply...)
}

// hashAddr is FNV-1a over an address and port.
func hashAddr(a netip.AddrPort) uint32 {
	h := uint32(2166136261)
	b := a.Addr().As16()
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(a.Port()&0xff)) * 16777619
	return (h ^ uint32(a.Port()>>8)) * 16777619
}
