package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/m2msim/m2msim/scenarios"
	tdial "github.com/m2msim/m2msim/transports/dial"
	"github.com/m2msim/m2msim/transports/mqtt"
)

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunRefusedTargetAsksForBroker(t *testing.T) {
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	s := writeScenario(t, "version: 1\nname: r\nduration: 1s\ntarget: {broker: tcp://"+addr+"}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n")
	code, _, errs := cli(t, t.Context(), "run", s, "--out", t.TempDir())
	want := "m2msim: target tcp://" + addr + " refused the connection: is the broker running? (start one with: mosquitto -p " + port +
		"; or remove target: to use the embedded broker)\n"
	if code != exitUsage || errs != want {
		t.Errorf("run against %s = exit %d, %q; want exit 2, %q", addr, code, errs, want)
	}
}

func TestExplainTarget(t *testing.T) {
	local := scenarios.Target{Broker: "tcp://127.0.0.1:1883"}
	remote := scenarios.Target{Broker: "tcp://mqtt.example.com:8883"}
	dial := func(err error) error { return fmt.Errorf("backend connection: mqtt: dial: %w", err) }
	for _, tc := range []struct {
		target scenarios.Target
		err    error
		want   string
	}{
		{local, dial(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			"target tcp://127.0.0.1:1883 refused the connection: is the broker running? (start one with: mosquitto -p 1883; or remove target: to use the embedded broker)"},
		{remote, dial(syscall.ECONNREFUSED),
			"target tcp://mqtt.example.com:8883 refused the connection: is the broker running? (is one listening on mqtt.example.com port 8883? or remove target: to use the embedded broker)"},
		{remote, dial(&net.DNSError{Err: "no such host", Name: "mqtt.example.com", IsNotFound: true}),
			`target tcp://mqtt.example.com:8883: cannot resolve host "mqtt.example.com" (no such host): check target.broker`},
		{remote, dial(&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}),
			"target tcp://mqtt.example.com:8883 did not answer in time: is the address right, and does a firewall let connections to port 8883 through?"},
		{remote, dial(syscall.EHOSTUNREACH),
			"target tcp://mqtt.example.com:8883 cannot be reached from here (no route to mqtt.example.com): check the address and the network"},
		{local, dial(io.EOF),
			"target tcp://127.0.0.1:1883 closed the connection before answering CONNECT: is it a plain MQTT listener? (for a TLS listener use mqtts://host:port)"},
		{remote, dial(&tdial.TLSError{Addr: "mqtt.example.com:8883", Reason: tdial.ReasonUnknownCA, Err: errors.New("x509: unknown authority")}),
			"target tcp://mqtt.example.com:8883: the TLS handshake failed (unknown_ca): check target.tls (ca, client certificates, server_name): x509: unknown authority"},
		{local, fmt.Errorf("backend connection: %w", mqtt.ConnackError{Code: 5}),
			"target tcp://127.0.0.1:1883 refused the login (connack: not authorized (5)): check the credentials in the variables target.username_env and target.password_env name"},
		{local, fmt.Errorf("target names $U: %w", scenarios.ErrCredentials), "target names $U: credentials variable not set"},
		{local, errors.New("something new"), "target tcp://127.0.0.1:1883: something new"},
	} {
		got := explainTarget(tc.target, tc.err)
		if got.Error() != tc.want || !errors.Is(got, tc.err) {
			t.Errorf("explainTarget(%v) = %q, want %q (wrapping the cause)", tc.err, got, tc.want)
		}
	}
}

func TestExplainTargetKeepsNoDialDetail(t *testing.T) {
	err := &net.OpError{Op: "dial", Net: "tcp", Source: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
		Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1883}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	if got := explainTarget(scenarios.Target{Broker: "tcp://127.0.0.1:1883"}, err).Error(); strings.Contains(got, "127.0.0.2") {
		t.Errorf("explainTarget = %q: the source address is noise to the user", got)
	}
}
