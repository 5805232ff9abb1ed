package lwm2m

import (
	"fmt"

	"github.com/m2msim/m2msim/transports/coap"
)

// SendPath is the URI path of the LwM2M 1.1 Send operation (Transport
// §6.4.4): the server's data-push resource.
const SendPath = "dp"

// Send reports recs to the server with the LwM2M 1.1 Send operation
// (Core §6.4.4, Transport §6.4.4): a confirmable POST /dp carrying the
// records in f, SenML CBOR or SenML JSON, each named by its full path.
// It does not wait: done (which may be nil) gets the exchange's result,
// the server's 2.04 or an error code in its Response, or its Err (a
// timeout, a reset, the session closed). The exchange counts against
// the session's NSTART like any other and waits in its queue past it.
// A sleeping device wakes to send, as its radio would, without an
// Update. A 4.04 answer, from a server that does not know the device's
// address (a NAT rebinding changed it), makes the device send an Update
// at once. Send fails at once when the records cannot be encoded or the
// session cannot take the exchange.
func (c *Client) Send(f Format, recs []Record, done func(coap.Result)) error {
	if f != FormatSenMLCBOR && f != FormatSenMLJSON {
		return fmt.Errorf("lwm2m: send in %v: only SenML CBOR and SenML JSON carry full paths", f)
	}
	payload, err := Encode(nil, f, Path{}, recs)
	if err != nil {
		return fmt.Errorf("lwm2m: send: %w", err)
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("lwm2m: send: %w", coap.ErrClosed)
	}
	m := &coap.Message{Type: coap.Confirmable, Code: coap.POST, Payload: payload}
	m.AddOption(coap.URIPath, []byte(SendPath))
	m.SetUint(coap.ContentFormat, uint32(f))
	c.gate.wake()
	return c.s.Start(m, func(r coap.Result) {
		refused := r.Err == nil && r.Response != nil && r.Response.Code == coap.NotFound
		if done != nil {
			done(r)
		}
		if refused {
			// The server knows the device by its address, which a NAT
			// rebinding has changed: an Update moves the registration
			// to the new one (Core §6.2.2), or registers it again.
			c.Update()
		}
	})
}
