// Package coap is m2msim's CoAP transport (RFC 7252, with the options of
// RFC 7641 Observe and RFC 7959 block-wise transfer): a message codec and
// a device-side Session with its own reliability layer.
package coap
