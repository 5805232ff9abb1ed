// Package sim is the m2msim engine: it turns a Plan into a fleet of virtual
// devices, drives them on an open-model schedule and reports what happened
// as Events to a Recorder.
//
// The engine knows no protocol. It consumes a Connector (device sessions
// that Send messages under references the engine issues, with optional
// capabilities such as Pinger), and the backend's two roles, a Receiver
// (what devices send reaches the server-side application) and a Sender
// (its commands and answers), all declared here and bound to transports
// by the scenarios package. A group states what its protocol does, not
// which it is: InlineAnswers, Untimed.
//
// Devices are passive state: a device that is not connected holds no
// goroutine and no socket. Every shard owns one due-time queue; no timer or
// goroutine exists per device. A connected device costs the one reader
// goroutine its session needs.
package sim
