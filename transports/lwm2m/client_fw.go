package lwm2m

import (
	"context"
	"net"
	"net/url"
	"time"

	"github.com/m2msim/m2msim/transports/coap"
)

// firmwareTask is the client's share of a firmware update (pull, Core
// §E.6): the download it runs and the install it times.
type firmwareTask struct {
	downloading bool
	due         time.Time // when the install ends; zero: none under way
}

// afterWrite starts the download a Write of the Package URI (/5/0/1)
// asked for: the Model went Downloading. c.mu must be held.
func (c *Client) afterWrite(p Path, now time.Time) {
	if p.Object() != ObjectFirmware || c.fw.downloading {
		return
	}
	if st, _ := c.m.FirmwareState(); st != FirmwareDownloading {
		return
	}
	uri, _ := c.m.Get(fwURI)
	c.download(uri.Str(), now)
}

// download fetches the package at uri block-wise (RFC 7959): over the
// client's own session when uri names its server, else over a transient
// session to that host. Only coap:// is fetched; other schemes fail the
// download with result 9. c.mu must be held.
func (c *Client) download(uri string, now time.Time) {
	u, err := url.Parse(uri)
	switch {
	case err != nil || u.Host == "":
		c.downloaded(ResultInvalidURI, coap.Progress{}, err)
		return
	case u.Scheme != "coap":
		c.downloaded(ResultUnsupportedProtocol, coap.Progress{}, nil)
		return
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5683")
	}
	req := &coap.Message{Type: coap.Confirmable, Code: coap.GET}
	req.SetPath(u.Path)
	o := coap.TransferOptions{BlockSize: c.o.FirmwareBlockSize, Block: func(coap.Progress, []byte) {}}
	c.fw.downloading = true
	if host != c.o.CoAP.Addr {
		go c.downloadFrom(host, req, o)
		return
	}
	if err := c.s.Download(req, o, c.fetched); err != nil {
		c.downloaded(ResultConnectionLost, coap.Progress{}, err)
	}
}

// downloadFrom fetches a package from another server than the
// registration's, over a session of its own that lives as long as the
// transfer; it runs on a goroutine of its own, which exits with the
// transfer (bounded by the session's retransmissions) or when the
// client ends.
func (c *Client) downloadFrom(host string, req *coap.Message, o coap.TransferOptions) {
	co := c.o.CoAP
	co.Addr, co.Handler, co.Lost = host, nil, nil
	s, err := coap.Dial(context.Background(), co) // bounded by co.DialTimeout
	if err != nil {
		c.fetched(coap.TransferResult{Err: err})
		return
	}
	defer s.Close()
	done := make(chan coap.TransferResult, 1)
	if err := s.Download(req, o, func(r coap.TransferResult) { done <- r }); err != nil {
		c.fetched(coap.TransferResult{Err: err})
		return
	}
	select {
	case r := <-done:
		c.fetched(r)
	case <-c.quit: // the client ended: the transfer with it
	}
}

// fetched is the download's done callback.
func (c *Client) fetched(r coap.TransferResult) {
	res := ResultInitial
	switch {
	case r.Err != nil:
		res = ResultConnectionLost
	case r.Response.Code.Class() != 2:
		res = ResultInvalidURI // the server has no package there
	}
	c.mu.Lock()
	c.downloaded(res, r.Progress, r.Err)
	c.unlock()
}

// downloaded moves the Model on from a download's outcome and reports
// it. c.mu must be held.
func (c *Client) downloaded(res UpdateResult, p coap.Progress, err error) {
	c.fw.downloading = false
	if st, _ := c.m.FirmwareState(); st == FirmwareDownloading {
		_ = c.m.FirmwareDownloaded(res)
	}
	st, r := c.m.FirmwareState()
	c.firmwareEvent(FirmwareEvent{State: st, Result: r, Download: p.Elapsed, Bytes: p.Bytes, Err: err})
	c.soon(time.Now())
}

// install times the install an Execute of /5/0/2 started (the Model
// went Updating). c.mu must be held.
func (c *Client) install(now time.Time) {
	if st, _ := c.m.FirmwareState(); st == FirmwareUpdating {
		c.fw.due = now.Add(c.o.FirmwareUpdateTime)
		c.schedule(now)
	}
}

// installed ends the install with success and registers again, as a
// device that rebooted into its new firmware does. c.mu must be held.
func (c *Client) installed(now time.Time) {
	c.fw.due = time.Time{}
	if err := c.m.FirmwareUpdated(ResultSuccess); err != nil {
		return // the server reset the update meanwhile
	}
	st, r := c.m.FirmwareState()
	c.firmwareEvent(FirmwareEvent{State: st, Result: r})
	c.registerAsync(now)
	c.soon(now)
}

func (c *Client) firmwareEvent(e FirmwareEvent) {
	if f := c.o.OnFirmware; f != nil {
		c.later(func() { f(e) })
	}
}

// Updating reports whether a firmware download or install is under way:
// a power model must not put the device to sleep then.
func (c *Client) Updating() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fw.downloading || !c.fw.due.IsZero()
}
