package mqtt

import (
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cmsgTimestamp encodes an SCM_TIMESTAMPNS control message as the kernel
// does on this platform.
func cmsgTimestamp(sec, nsec int64) []byte {
	ts := syscall.NsecToTimespec(sec*1e9 + nsec)
	data := unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
	hdr := syscall.Cmsghdr{Level: syscall.SOL_SOCKET, Type: syscall.SCM_TIMESTAMPNS}
	hdr.SetLen(syscall.CmsgLen(len(data)))
	b := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&hdr)), syscall.SizeofCmsghdr)...)
	b = append(b, make([]byte, cmsgAlign(syscall.SizeofCmsghdr)-syscall.SizeofCmsghdr)...)
	return append(b, data...)
}

// FuzzStamp feeds arbitrary control messages to the timestamp parser: it
// must never read outside them, and must find a well-formed timestamp.
func FuzzStamp(f *testing.F) {
	f.Add(cmsgTimestamp(1_800_000_000, 123), uint8(32))
	f.Add(cmsgTimestamp(1, 2), uint8(40))
	f.Add(make([]byte, 16), uint8(16))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, uint8(64))
	f.Fuzz(func(t *testing.T, oob []byte, controllen uint8) {
		var r stampReader
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[0])), len(r.oob)*8)
		copy(buf, oob)
		r.msg.SetControllen(int(controllen))
		got := r.stamp()
		if got.IsZero() {
			t.Fatal("stamp() = zero time")
		}
		want := cmsgTimestamp(1_800_000_000, 123)
		if len(oob) >= len(want) && int(controllen) >= len(want) && string(oob[:len(want)]) == string(want) {
			if got != time.Unix(1_800_000_000, 123) {
				t.Fatalf("stamp() = %v, want the message's 1800000000.000000123", got)
			}
			return
		}
	})
}

func TestStampFindsTimestamp(t *testing.T) {
	var r stampReader
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&r.oob[0])), len(r.oob)*8)
	m := cmsgTimestamp(1_800_000_000, 123)
	n := copy(buf, m)
	r.msg.SetControllen(n)
	if got := r.stamp(); got != time.Unix(1_800_000_000, 123) {
		t.Errorf("stamp() = %v, want 1800000000.000000123", got)
	}
	r.msg.SetControllen(0)
	if got := r.stamp(); time.Since(got) > time.Minute {
		t.Errorf("stamp() without control messages = %v, want now", got)
	}
}
