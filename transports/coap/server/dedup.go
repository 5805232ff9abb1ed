package server

import "time"

// dedup remembers a worker's recent requests with the answers sent, so
// that a duplicate (a retransmission whose ACK was lost, or a datagram
// a link duplicated) is answered again rather than handled twice (RFC
// 7252 §4.5). It is direct-mapped: an entry is found in one slot, by a
// hash of the client and message id, and a newer request that hashes to
// the same slot overwrites it. So a lookup costs one comparison and the
// memory is fixed, at the price of forgetting some requests before
// their exchange lifetime ends under a heavy load.
type dedup struct {
	e    []dedupEntry
	life time.Duration
}

type dedupEntry struct {
	from  endpoint
	at    time.Time
	reply []byte // the answer to send again, when has (a NON request gets none)
	mid   uint16
	used  bool
	has   bool
}

func newDedup(entries int, life time.Duration) dedup {
	n := 1
	for n < entries {
		n <<= 1
	}
	return dedup{e: make([]dedupEntry, n), life: life}
}

func (d *dedup) slot(from endpoint, mid uint16) *dedupEntry {
	h := shard(from.addr) ^ uint32(mid)*0x9e3779b1
	return &d.e[h&uint32(len(d.e)-1)]
}

// lookup reports whether (from, mid) was seen within the lifetime, with
// the answer it got (nil for none).
func (d *dedup) lookup(from endpoint, mid uint16, now time.Time) (bool, []byte) {
	e := d.slot(from, mid)
	if !e.used || e.mid != mid || e.from != from || now.Sub(e.at) >= d.life {
		return false, nil
	}
	if !e.has {
		return true, nil
	}
	return true, e.reply
}

// store remembers (from, mid) and its answer, copied.
func (d *dedup) store(from endpoint, mid uint16, now time.Time, reply []byte) {
	e := d.slot(from, mid)
	e.from, e.mid, e.at, e.used, e.has = from, mid, now, true, reply != nil
	e.reply = append(e.reply[:0], reply...)
}
