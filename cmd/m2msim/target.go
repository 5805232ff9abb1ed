package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/m2msim/m2msim/scenarios"
	"github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
	"github.com/m2msim/m2msim/transports/ws"
)

// targetError is a failure to open the target, explained in terms of
// what to do about it. It wraps the error it explains.
type targetError struct {
	msg string
	err error
}

func (e *targetError) Error() string { return e.msg }
func (e *targetError) Unwrap() error { return e.err }

// explainTarget turns the error of opening target t (the backend's first
// connection) into advice: a refused connection asks whether the broker
// runs, a name that does not resolve names the host, a silence names the
// timeout. Errors it cannot classify keep their text.
func explainTarget(t scenarios.Target, err error) error {
	host, port, _ := net.SplitHostPort(t.Addr())
	var dns *net.DNSError
	var connack mqtt.ConnackError
	var tlsErr *dial.TLSError
	var upgrade *ws.HandshakeError
	var msg string
	switch {
	case errors.Is(err, scenarios.ErrCredentials):
		msg = err.Error()
	case errors.As(err, &tlsErr):
		msg = fmt.Sprintf("target %s: the TLS handshake failed (%s): check target.tls (ca, client certificates, server_name): %v", t.Broker, tlsErr.Reason, tlsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("target %s refused the connection: is the broker running? (%s)", t.Broker, startHint(t, host, port))
	case errors.As(err, &dns):
		msg = fmt.Sprintf("target %s: cannot resolve host %q (%s): check target.broker", t.Broker, dns.Name, dns.Err)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		msg = fmt.Sprintf("target %s cannot be reached from here (no route to %s): check the address and the network", t.Broker, host)
	case isTimeout(err):
		msg = fmt.Sprintf("target %s did not answer in time: is the address right, and does a firewall let connections to port %s through?", t.Broker, port)
	case errors.As(err, &connack):
		msg = fmt.Sprintf("target %s refused the login (%v): check the credentials in the variables target.username_env and target.password_env name", t.Broker, connack)
	case errors.As(err, &upgrade):
		msg = fmt.Sprintf("target %s refused the WebSocket upgrade (HTTP status %d): check the URL's path (many brokers serve /mqtt)", t.Broker, upgrade.Status)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		msg = fmt.Sprintf("target %s closed the connection before answering CONNECT: is it a plain MQTT listener? (for a TLS listener use mqtts://host:port; over WebSocket ws:// or wss://)", t.Broker)
	default:
		msg = fmt.Sprintf("target %s: %v", t.Broker, err)
	}
	return &targetError{msg: msg, err: err}
}

// startHint says how to get a broker listening where t points.
func startHint(t scenarios.Target, host, port string) string {
	if t.BrokerWebSocket() {
		return "is a WebSocket listener on " + host + " port " + port + "? or set target.broker: embedded+ws"
	}
	if t.Loopback() {
		return "start one with: mosquitto -p " + port + "; or remove target: to use the embedded broker"
	}
	return "is one listening on " + host + " port " + port + "? or remove target: to use the embedded broker"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}

// targets names what the run drives: the broker (and where the embedded
// one listens), the CoAP server and the LwM2M server.
func targets(sc *scenarios.Scenario, rt *scenarios.Runtime) string {
	var out []string
	if rt.Addr != "" {
		b := sc.Target.Broker
		if sc.Target.Embedded() {
			b = "embedded broker"
		}
		if rt.WebSocketURL != "" {
			b += " at " + rt.Addr + " and " + rt.WebSocketURL
		} else {
			b += " at " + rt.Addr
		}
		out = append(out, b)
	}
	switch {
	case sc.Speaks(scenarios.ProtocolCoAP) && rt.CoAPAddr != "":
		out = append(out, "embedded CoAP server at "+rt.CoAPAddr)
	case sc.Speaks(scenarios.ProtocolCoAP):
		out = append(out, "CoAP server "+sc.Target.CoAP)
	}
	switch {
	case sc.Speaks(scenarios.ProtocolLwM2M) && rt.LwM2MAddr != "":
		out = append(out, "embedded LwM2M server at "+rt.LwM2MAddr)
	case sc.Speaks(scenarios.ProtocolLwM2M):
		out = append(out, "LwM2M server "+sc.Target.LwM2M)
	}
	return strings.Join(append(out, webTargets(sc, rt)...), " and ")
}

// webTargets names the servers of http and websocket groups, and where
// m2msim's endpoint listens.
func webTargets(sc *scenarios.Scenario, rt *scenarios.Runtime) []string {
	var out []string
	for _, t := range []struct{ protocol, target, name string }{
		{scenarios.ProtocolHTTP, sc.Target.HTTP, "HTTP server "},
		{scenarios.ProtocolWebSocket, sc.Target.WebSocket, "WebSocket server "},
	} {
		if sc.Speaks(t.protocol) && t.target != "embedded" {
			out = append(out, t.name+t.target)
		}
	}
	if rt.EndpointAddr != "" {
		out = append(out, "m2msim's HTTP endpoint at "+rt.EndpointAddr)
	}
	return out
}
