package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
	"github.com/m2msim/m2msim/transports/lwm2m"
)

// firmware is the image the server serves for pull firmware updates.
type firmware struct {
	image []byte
	etag  []byte
	szx   uint8 // the largest block size the server sends
}

func newFirmware(c Config) firmware {
	rng := rand.New(rand.NewPCG(c.Seed, 0xf1a5))
	img := make([]byte, c.FirmwareSize)
	for i := 0; i < len(img); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		copy(img[i:], w[:])
	}
	szx := uint8(0)
	for 1<<(szx+5) <= c.BlockSize && szx < 6 {
		szx++
	}
	return firmware{image: img, etag: binary.BigEndian.AppendUint32(nil, rng.Uint32()), szx: szx}
}

// block answers a GET of the image: the block the request's Block2 asks
// for (the first without one) in the smaller of its size and the
// server's, with Size2 on the first (RFC 7959 §2.4, §4) and an ETag.
func (f *firmware) block(m *coap.Message, st *counters) *coap.Message {
	b := coap.Block{SZX: f.szx}
	if v, ok := m.Option(coap.Block2); ok {
		req, err := coap.ParseBlock(v)
		if err != nil {
			return &coap.Message{Code: coap.BadOption}
		}
		if req.SZX < b.SZX {
			b.SZX = req.SZX
		} else if req.SZX > b.SZX { // the number counts the client's larger blocks
			req.Num <<= req.SZX - b.SZX
		}
		b.Num = req.Num
	}
	off := int(b.Num) * b.Size()
	if off > len(f.image) || off == len(f.image) && off > 0 {
		return &coap.Message{Code: coap.BadOption, Payload: []byte("block beyond the image")}
	}
	end := min(off+b.Size(), len(f.image))
	b.More = end < len(f.image)
	st.add(cFirmwareBlocks)
	resp := &coap.Message{Code: coap.Content, Payload: f.image[off:end]}
	resp.SetUint(coap.ContentFormat, coap.OctetStream)
	resp.AddOption(coap.ETag, f.etag)
	resp.SetBlock(coap.Block2, b)
	if b.Num == 0 {
		resp.SetUint(coap.Size2, uint32(len(f.image)))
	}
	return resp
}

// Firmware returns the image the server serves and its coap:// URI, the
// Package URI to write for a pull update from this server.
func (s *Server) Firmware() (image []byte, uri string) {
	return s.fw.image, "coap://" + s.Addr() + "/" + s.c.FirmwarePath
}

// FirmwareReport is how a firmware update went.
type FirmwareReport struct {
	Result     lwm2m.UpdateResult // the device's Update Result (/5/0/5)
	Downloaded time.Duration      // from the Package URI write to state Downloaded
	Total      time.Duration      // from the write to the end of the update
}

// ErrFirmware reports an update that ended in a failure result; the
// report says which.
var ErrFirmware = errors.New("lwm2m server: firmware update failed")

// UpdateFirmware runs a pull firmware update on device ep (Core §E.6):
// it observes the Firmware Update instance (/5/0, SenML JSON), writes
// uri to Package URI (/5/0/1), waits for state Downloaded, executes
// Update (/5/0/2) and waits for the state to return to Idle with a
// result. It returns when the update ended, failed (ErrFirmware, with
// the result in the report) or ctx ended.
func (s *Server) UpdateFirmware(ctx context.Context, ep, uri string) (FirmwareReport, error) {
	start := time.Now()
	states := make(chan fwStatus, 16)
	o, resp, err := s.Observe(ctx, ep, lwm2m.InstancePath(lwm2m.ObjectFirmware, 0), lwm2m.FormatSenMLJSON,
		func(n Notification) {
			if st, ok := firmwareStatus(n.Payload); ok {
				select {
				case states <- st:
				default: // the waiter reads a later one
				}
			}
		})
	if err != nil {
		return FirmwareReport{}, err
	}
	if o == nil {
		return FirmwareReport{}, fmt.Errorf("lwm2m server: observe /5/0 on %s: %v", ep, resp.Code)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), s.c.AckTimeout*4)
		s.Cancel(cctx, o)
		cancel()
	}()
	return s.runUpdate(ctx, ep, uri, start, states)
}

// runUpdate writes the URI, then executes the update once downloaded.
func (s *Server) runUpdate(ctx context.Context, ep, uri string, start time.Time, states chan fwStatus) (FirmwareReport, error) {
	var rep FirmwareReport
	w, err := s.Write(ctx, ep, lwm2m.ResourcePath(lwm2m.ObjectFirmware, 0, 1), lwm2m.FormatText, []byte(uri), false)
	if err != nil {
		return rep, err
	}
	if !w.Success() {
		return rep, fmt.Errorf("lwm2m server: write package uri on %s: %v", ep, w.Code)
	}
	executed := false
	for {
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case st := <-states:
			switch {
			case st.state == lwm2m.FirmwareDownloaded && !executed:
				rep.Downloaded = time.Since(start)
				e, err := s.Execute(ctx, ep, lwm2m.ResourcePath(lwm2m.ObjectFirmware, 0, 2), nil)
				if err != nil {
					return rep, err
				}
				if !e.Success() {
					return rep, fmt.Errorf("lwm2m server: execute update on %s: %v", ep, e.Code)
				}
				executed = true
			case st.state == lwm2m.FirmwareIdle && st.result != lwm2m.ResultInitial:
				rep.Result, rep.Total = st.result, time.Since(start)
				if st.result != lwm2m.ResultSuccess {
					return rep, ErrFirmware
				}
				return rep, nil
			}
		}
	}
}

// fwStatus is the state and result a notification of /5/0 carries.
type fwStatus struct {
	state  lwm2m.FirmwareState
	result lwm2m.UpdateResult
}

// firmwareStatus reads state and result from a SenML JSON /5/0 payload.
func firmwareStatus(payload []byte) (fwStatus, bool) {
	base := lwm2m.InstancePath(lwm2m.ObjectFirmware, 0)
	recs, err := lwm2m.Decode(lwm2m.FormatSenMLJSON, base, payload, definedType)
	if err != nil {
		return fwStatus{}, false
	}
	var st fwStatus
	var n int
	for _, r := range recs {
		switch r.Path.Resource() {
		case 3:
			st.state, n = lwm2m.FirmwareState(r.Value.Int()), n+1
		case 5:
			st.result, n = lwm2m.UpdateResult(r.Value.Int()), n+1
		}
	}
	return st, n == 2
}
