package mqtt

import (
	"strconv"
	"strings"
)

// reasonNames names the MQTT 5 reason codes (MQTT 5.0 section 2.4). Codes
// 0x00-0x02 mean different things in different packets; a ReasonCodeError
// never carries them except as granted QoS, so they are named once.
var reasonNames = map[byte]string{
	0x00: "success",
	0x01: "granted qos 1",
	0x02: "granted qos 2",
	0x04: "disconnect with will message",
	0x10: "no matching subscribers",
	0x11: "no subscription existed",
	0x18: "continue authentication",
	0x19: "re-authenticate",
	0x80: "unspecified error",
	0x81: "malformed packet",
	0x82: "protocol error",
	0x83: "implementation specific error",
	0x84: "unsupported protocol version",
	0x85: "client identifier not valid",
	0x86: "bad user name or password",
	0x87: "not authorized",
	0x88: "server unavailable",
	0x89: "server busy",
	0x8a: "banned",
	0x8b: "server shutting down",
	0x8c: "bad authentication method",
	0x8d: "keep alive timeout",
	0x8e: "session taken over",
	0x8f: "topic filter invalid",
	0x90: "topic name invalid",
	0x91: "packet identifier in use",
	0x92: "packet identifier not found",
	0x93: "receive maximum exceeded",
	0x94: "topic alias invalid",
	0x95: "packet too large",
	0x96: "message rate too high",
	0x97: "quota exceeded",
	0x98: "administrative action",
	0x99: "payload format invalid",
	0x9a: "retain not supported",
	0x9b: "qos not supported",
	0x9c: "use another server",
	0x9d: "server moved",
	0x9e: "shared subscriptions not supported",
	0x9f: "connection rate exceeded",
	0xa0: "maximum connect time",
	0xa1: "subscription identifiers not supported",
	0xa2: "wildcard subscriptions not supported",
}

// ReasonName returns the MQTT 5 name of a reason code, such as "not
// authorized" for 0x87, or "reason 0xNN" for a code the spec does not
// define.
func ReasonName(code byte) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return "reason 0x" + hex2(code)
}

// ReasonCodeError is an MQTT 5 reason code from the broker: a refused
// CONNECT (CONNACK), a refused or noted PUBLISH (PUBACK, PUBREC, PUBCOMP),
// a refused subscription (SUBACK, through SubackError) or the end of the
// connection (DISCONNECT). Match it with errors.As and a *ReasonCodeError
// target.
type ReasonCodeError struct {
	// Packet is the control packet type that carried the code (2 CONNACK,
	// 4 PUBACK, 9 SUBACK, 14 DISCONNECT, ...).
	Packet byte
	// Code is the reason code; 0x80 and above are failures.
	Code byte
	// Reason is the broker's Reason String property, if it sent one.
	Reason string
}

// Error names the packet and the code, as in "mqtt: CONNACK 0x87 not
// authorized".
func (e ReasonCodeError) Error() string {
	s := "mqtt: " + packetName(e.Packet) + " 0x" + hex2(e.Code) + " " + ReasonName(e.Code)
	if e.Reason != "" {
		s += ": " + strconv.Quote(e.Reason)
	}
	return s
}

// Kind returns a stable label for counts, as in
// "mqtt_reason_0x87_not_authorized".
func (e ReasonCodeError) Kind() string {
	return ReasonLabel(e.Code)
}

// ReasonLabel is the count label of a reason code, as in
// "mqtt_reason_0x10_no_matching_subscribers".
func ReasonLabel(code byte) string {
	name := strings.NewReplacer(" ", "_", "-", "_").Replace(ReasonName(code))
	if _, ok := reasonNames[code]; !ok {
		name = "unknown"
	}
	return "mqtt_reason_0x" + hex2(code) + "_" + name
}

// Failed reports whether the code is a failure (0x80 and above).
func (e ReasonCodeError) Failed() bool { return e.Code >= 0x80 }

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}
