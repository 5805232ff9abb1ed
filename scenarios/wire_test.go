package scenarios

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseLinkEngineProblems(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the wire's problems on Linux; elsewhere engine: wire is one problem, checked below")
	}
	old := wirePrivileged
	wirePrivileged = func() bool { return true }
	t.Cleanup(func() { wirePrivileged = old })
	const head = "version: 1\nname: t\nduration: 1s\n"
	const group = "groups:\n  - {count: 20, telemetry: {every: 1s}}\n"
	cases := []struct {
		name, doc string
		want      []string
	}{
		{"kernel: Gilbert-Elliott loss", head + "link: {engine: kernel}\ngroups:\n  - {count: 2, telemetry: {every: 1s}, link: {up: 'loss gemodel 1% 10%'}}\n",
			[]string{"groups[0].link: link.engine kernel cannot give the kernel's qdiscs up: loss gemodel", "use link.engine: wire"}},
		{"kernel: a class per device", head + "link: {engine: kernel, devices: 10.0.0.0/8}\ngroups:\n  - {count: 70000, telemetry: {every: 1s}, link: {up: 'rate 1mbit'}}\n",
			[]string{"link.engine: kernel gives each shaped device a qdisc class of its own, at most 65533; the fleet has 70000"}},
		{"unknown engine", head + "link: {engine: qdisc}\n" + group, []string{`link.engine: must be socket, wire or kernel, got "qdisc"`}},
		{"unknown key", head + "link: {engine: wire, devcies: 10.0.0.0/8}\n" + group, []string{`link: unknown key "devcies" (did you mean "devices"?)`}},
		{"too few addresses", head + "link: {engine: wire, devices: 10.77.0.0/28}\n" + group,
			[]string{"link.devices: 10.77.0.0/28 has 14 addresses, one per device, but the fleet has 20 devices"}},
		{"not a range", head + "link: {engine: wire, devices: 10.77.0.1}\n" + group, []string{"link.devices"}},
		{"IPv6", head + "link: {engine: wire, server: 'fd00::/64'}\n" + group, []string{"link.server: must be an IPv4 range of /30 or wider"}},
		{"overlap", head + "link: {engine: wire, server: 10.77.1.0/24}\n" + group, []string{"link.server: 10.77.1.0/24 overlaps link.devices 10.77.0.0/16"}},
		{"server command without the wire", head + "link: {server_command: [mosquitto]}\n" + group,
			[]string{"link.server_command: runs a server inside the devices' peer namespace: it needs engine: wire or kernel"}},
		{"a broker on the host", head + "link: {engine: wire}\ntarget: {broker: 'tcp://127.0.0.1:1883'}\n" + group,
			[]string{"target.broker: 127.0.0.1:1883 is outside the wire's server namespace", "IP forwarding and source NAT",
				"link.server_command and target 10.78.0.1:1883"}},
		{"nothing at the server address", head + "link: {engine: wire}\ntarget: {broker: 'tcp://10.78.0.1:1883'}\n" + group,
			[]string{"target.broker: 10.78.0.1:1883 is the wire's server address, but nothing runs there"}},
		{"a CoAP server elsewhere", head + "link: {engine: wire, server_command: [x]}\ntarget: {coap: 'coap://10.0.0.1'}\ngroups:\n  - {count: 1, protocol: coap, telemetry: {every: 1s}}\n",
			[]string{"target.coap: 10.0.0.1:5683 is outside the wire's server namespace"}},
		{"source addresses", head + "link: {engine: wire}\ntarget: {source_addresses: 2}\n" + group,
			[]string{"target.source_addresses: does not apply with link.engine: wire"}},
	}
	for _, c := range cases {
		wantProblems(t, c.name, c.doc, c.want)
	}
	wirePrivileged = func() bool { return false }
	wantProblems(t, "no privilege", head+"link: {engine: wire}\n"+group,
		[]string{"link.engine: wire needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN)", "use engine: socket"})
	wantProblems(t, "no privilege for qdiscs", head+"link: {engine: kernel}\n"+group,
		[]string{"link.engine: kernel needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network namespaces, a veth pair and qdiscs"})
}

func TestLinkDefaults(t *testing.T) {
	old := wirePrivileged
	wirePrivileged = func() bool { return true }
	t.Cleanup(func() { wirePrivileged = old })
	s, err := Parse("t.yaml", []byte("version: 1\nname: t\nduration: 1s\nlink: {}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Link.Engine != EngineSocket || s.Link.Devices.String() != "10.77.0.0/16" || s.Link.Server.String() != "10.78.0.0/24" || s.Wire() {
		t.Errorf("link defaults = %+v, want socket, 10.77.0.0/16, 10.78.0.0/24", *s.Link)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"link":{"engine":"socket","devices":"10.77.0.0/16","server":"10.78.0.0/24"}`; !strings.Contains(string(b), want) {
		t.Errorf("normalised form %s\nwant it to hold %s", b, want)
	}
	if runtime.GOOS != "linux" {
		wantProblems(t, "not Linux", "version: 1\nname: t\nduration: 1s\nlink: {engine: wire}\ngroups:\n  - {count: 1, telemetry: {every: 1s}}\n",
			[]string{"link.engine: wire needs Linux"})
	}
}

func FuzzParseLink(f *testing.F) {
	const head = "version: 1\nname: t\nduration: 1s\n"
	for _, link := range []string{"{engine: wire}", "{engine: kernel}", "{engine: wire, devices: 10.77.0.0/28, server: 10.78.0.0/30}",
		"{engine: wire, server_command: [mosquitto, -c, m.conf]}", "{engine: socket, server: 'fd00::/64'}"} {
		f.Add([]byte(head + "link: " + link + "\ntarget: {broker: 'tcp://10.78.0.1:1883'}\ngroups:\n  - {count: 20, telemetry: {every: 1s}}\n"))
	}
	f.Fuzz(checkParse)
}

// The README compares nbiot-lossy and nbiot-wire as one fleet under two
// engines: they must stay the same but for their name and engine.
func TestNBIoTEngineExamplesDifferOnlyByEngine(t *testing.T) {
	body := func(file string) string {
		b, err := os.ReadFile(filepath.Join("examples", file))
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "name:") && !strings.HasPrefix(l, "  engine:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if a, b := body("nbiot-lossy.yaml"), body("nbiot-wire.yaml"); a != b {
		t.Errorf("nbiot-lossy.yaml and nbiot-wire.yaml differ beyond name and engine:\n%s\n---\n%s", a, b)
	}
}
