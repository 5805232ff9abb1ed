// Package sim is the m2msim engine: it turns a Plan into a fleet of virtual
// devices, drives them on an open-model schedule and reports what happened
// as Events to a Recorder.
//
// The engine knows no protocol. It consumes a Connector (device sessions)
// and a Backend (the server-side application that receives telemetry and
// sends commands), both declared here and implemented by transports.
//
// Devices are passive state: a device that is not connected holds no
// goroutine and no socket. Every shard owns one due-time queue; no timer or
// goroutine exists per device. A connected device costs the one reader
// goroutine its session needs.
package sim
