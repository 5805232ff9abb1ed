package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// head is the valid start most bad inputs below build on; its groups
// entry is on line 5.
const head = "version: 1\nname: t\nduration: 10s\ngroups:\n"

// problemCases are bad inputs and the exact problems each gives. FuzzParse
// starts from them too.
var problemCases = []struct {
	name string
	in   string
	want []string
}{
	{"unknown top-level key", head + "  - count: 10\ncolour: red\n", []string{
		`t.yaml:6:1: unknown key "colour"; known keys: version, name, description, seed, duration, drain, link, target, backend, groups, stages, thresholds`}},
	{"unknown nested key", head + "  - count: 10\n    telemetry:\n      every: 1s\n      qso: 1\n", []string{
		`t.yaml:8:7: groups[0].telemetry: unknown key "qso" (did you mean "qos"?)`}},
	{"unknown key in flow mapping", head + "  - count: 10\n    connect: {rate: 5/s, keep_alive: 5s}\n", []string{
		`t.yaml:6:26: groups[0].connect: unknown key "keep_alive" (did you mean "keepalive"?)`}},
	{"count not a number", head + "  - count: ten\n", []string{
		`t.yaml:5:12: groups[0].count: must be a whole number, got "ten"`}},
	{"count quoted", head + "  - count: \"10\"\n", []string{
		`t.yaml:5:12: groups[0].count: must be a whole number, got "10"`}},
	{"groups not a list", head + "  5\n", []string{
		`t.yaml:5:3: groups: must be a list, got 5`}},
	{"connect not a mapping", head + "  - count: 1\n    connect: [a]\n", []string{
		`t.yaml:6:14: groups[0].connect: must be a mapping, got a list`}},
	{"bool as yes", head + "  - count: 1\n    connect: {clean_session: yes}\n", []string{
		`t.yaml:6:30: groups[0].connect.clean_session: must be true or false, got "yes"`}},
	{"name a list", "version: 1\nname: [a]\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:2:7: name: must be a string, got a list`}},
	{"qos 3", head + "  - count: 1\n    telemetry:\n      every: 1s\n      qos: 3\n", []string{
		`t.yaml:8:12: groups[0].telemetry.qos: must be 0, 1 or 2, got 3`}},
	{"jitter over half the period", head + "  - count: 1\n    telemetry: {every: 1s, jitter: 600ms}\n", []string{
		`t.yaml:6:36: groups[0].telemetry.jitter: must be 0s to every/2 (500ms), got 600ms`}},
	{"telemetry every missing", head + "  - count: 1\n    telemetry: {qos: 1}\n", []string{
		`t.yaml:6:16: groups[0].telemetry.every: required: the time between two messages`}},
	{"every zero", head + "  - count: 1\n    commands: {every: 0s}\n", []string{
		`t.yaml:6:23: groups[0].commands.every: must be > 0, got 0s`}},
	{"keepalive fraction and timeout zero", head + "  - count: 1\n    connect: {keepalive: 1500ms, timeout: 0s}\n", []string{
		`t.yaml:6:26: groups[0].connect.keepalive: must be whole seconds, got 1.5s`,
		`t.yaml:6:43: groups[0].connect.timeout: must be > 0, got 0s`}},
	{"keepalive too long", head + "  - count: 1\n    connect: {keepalive: 70000s}\n", []string{
		`t.yaml:6:26: groups[0].connect.keepalive: must be 0s to 18h12m15s, got 19h26m40s`}},
	{"bad connect mode and linger", head + "  - count: 1\n    connect: {mode: sometimes, linger: -1s}\n    telemetry: {every: 1s}\n", []string{
		`t.yaml:6:21: groups[0].connect.mode: must be persistent or per-report, got "sometimes"`,
		`t.yaml:6:40: groups[0].connect.linger: must be >= 0, got -1s`}},
	{"bad drift", head + "  - count: 1\n    telemetry: {every: 1s, drift_ppm: -5}\n  - count: 1\n    telemetry: {every: 1s, drift_ppm: lots}\n", []string{
		`t.yaml:6:39: groups[0].telemetry.drift_ppm: must be 0 to 10000 parts per million, got -5`,
		`t.yaml:8:39: groups[1].telemetry.drift_ppm: must be a number, got "lots"`}},
	{"bad queue drop", head + "  - count: 1\n    queue_drop: middle\n", []string{
		`t.yaml:6:17: groups[0].queue_drop: must be newest or oldest, got "middle"`}},
	{"bad bursts", head + "  - count: 1\n    telemetry: {every: 1s, bursts: {every: 0s, count: 0, spacing: -1s}}\n", []string{
		`t.yaml:6:44: groups[0].telemetry.bursts.every: must be > 0, got 0s`,
		`t.yaml:6:55: groups[0].telemetry.bursts.count: must be 1 to 1000, got 0`,
		`t.yaml:6:67: groups[0].telemetry.bursts.spacing: must be >= 0, got -1s`}},
	{"bad sleep", head + "  - count: 1\n    sleep: {edrx: 20s, ptw: 30s, inactivity: -1s}\n", []string{
		`t.yaml:6:29: groups[0].sleep.ptw: must be 0s or more and shorter than edrx 20s, got 30s`,
		`t.yaml:6:46: groups[0].sleep.inactivity: must be >= 0, got -1s`}},
	{"class-a without a LoRa radio", head + "  - count: 1\n    radio: ltem\n    downlink: class-a\n", []string{
		`t.yaml:7:15: groups[0].downlink: class-a is LoRaWAN's: it needs a lorawan radio, got "ltem"`}},
	{"after-uplink without a radio", head + "  - count: 1\n    downlink: after-uplink\n", []string{
		`t.yaml:6:15: groups[0].downlink: after-uplink needs a radio, whose uplinks open the receive windows`}},
	{"unknown downlink", head + "  - count: 1\n    radio: sigfox\n    downlink: sometimes\n", []string{
		`t.yaml:7:15: groups[0].downlink: must be always, after-uplink, class-a or class-c, got "sometimes"`}},
	{"sleep with neither edrx nor psm", head + "  - count: 1\n    sleep: {inactivity: 10s}\n", []string{
		`t.yaml:6:12: groups[0].sleep: needs edrx (paging windows), psm (power saving mode) or both`}},
	{"ptw without edrx", head + "  - count: 1\n    sleep: {ptw: 2s, psm: {active: 10s}}\n", []string{
		`t.yaml:6:18: groups[0].sleep.ptw: is the paging window of an eDRX cycle: it needs edrx`}},
	{"psm without active", head + "  - count: 1\n    sleep: {psm: {tau: 1h}}\n", []string{
		`t.yaml:6:18: groups[0].sleep.psm.active: required: the active timer T3324, how long an idle device stays reachable before PSM (0s: at once)`}},
	{"psm timers", head + "  - count: 1\n    sleep: {psm: {active: 4h, tau: 1h}}\n  - count: 1\n    sleep: {psm: {active: 1m, tau: 30s}}\n", []string{
		`t.yaml:6:27: groups[0].sleep.psm.active: must be 0s to 3h6m0s (T3324), got 4h0m0s`,
		`t.yaml:6:36: groups[0].sleep.psm.tau: must be longer than psm.active 4h0m0s, or the device never sleeps, got 1h0m0s`,
		`t.yaml:8:36: groups[1].sleep.psm.tau: must be longer than psm.active 1m0s, or the device never sleeps, got 30s`}},
	{"short tokens in a large fleet", head + "  - count: 2097150\n  - count: 3\n    radio: sigfox\n    telemetry: {every: 1h}\n", []string{
		`t.yaml:8:16: groups[1].telemetry.payload: the radio's default payload {{track8}} tells 2097152 devices apart, but this group's reach fleet index 2097152: use {{track}} or a smaller fleet`}},
	{"collisions", head + "  - count: 1\n    radio: ltem\n    collisions: aloha\n  - count: 1\n    radio: lorawan\n    collisions: none\n", []string{
		`t.yaml:7:17: groups[0].collisions: is how LoRaWAN frames collide at the gateway: it needs a lorawan radio, got "ltem"`,
		`t.yaml:10:17: groups[1].collisions: must be capture or aloha, got "none"`}},
	{"sleep on a radio with receive windows", head + "  - count: 1\n    radio: lorawan\n    sleep: {edrx: 20s}\n", []string{
		`t.yaml:7:12: groups[0].sleep: is cellular idle mode; a device with downlink: class-a already listens only when its radio allows`}},
	{"psm and keepalive", head + "  - count: 1\n    connect: {keepalive: 30s}\n    sleep: {inactivity: 10s, psm: {active: 30s}}\n", []string{
		`t.yaml:6:26: groups[0].connect.keepalive: pings every 30s would keep the device out of PSM, which it enters 40s after an uplink: use a longer keepalive or 0s`}},
	{"psm per report", head + "  - count: 1\n    connect: {mode: per-report}\n    telemetry: {every: 1m}\n    sleep: {psm: {active: 0s}}\n", []string{
		`t.yaml:8:18: groups[0].sleep.psm: is a connected device's sleep; a per-report device already sleeps between reports without a connection`}},
	{"unknown radio", head + "  - count: 1\n    radio: nbiotx\n", []string{
		`t.yaml:6:12: groups[0].radio: unknown radio "nbiotx"; known: nbiot, ltem, gprs, 3g, lte, 5g, lorawan, lorawan-sf7..lorawan-sf12, sigfox, wifi, ble-gateway, geo, leo, iridium (m2msim radios lists them)`}},
	{"bad link syntax and range", head + "  - count: 1\n    link: {up: delay soon, down: loss 140%}\n", []string{
		`t.yaml:6:16: groups[0].link.up: netem profile "delay soon": delay "soon": syntax error: want a time such as 100ms, 1.5s or 100msec, got "soon"`,
		`t.yaml:6:34: groups[0].link.down: loss: must be within 0..100%, got 140%`}},
	{"per-report with nothing to wake it", head + "  - count: 1\n    connect: {mode: per-report}\n    commands: {every: 1s}\n", []string{
		`t.yaml:6:21: groups[0].connect.mode: per-report devices only wake to send: add telemetry or requests, or use persistent`}},
	{"count zero", head + "  - count: 0\n", []string{
		`t.yaml:5:12: groups[0].count: must be 1 to 16777215, got 0`}},
	{"count missing", head + "  - name: a\n", []string{
		`t.yaml:5:5: groups[0].count: required: the number of devices in the group`}},
	{"count null", head + "  - count:\n", []string{
		`t.yaml:5:11: groups[0].count: required: the number of devices in the group`}},
	{"fleet too large", head + "  - count: 16777215\n  - count: 1\n", []string{
		`t.yaml:6:12: groups[1].count: brings the fleet to 16777216 devices; at most 16777215 in total`}},
	{"bad backoff and max below initial", head + "  - count: 1\n    reconnect: {backoff: linear, initial: 5s, max: 1s}\n", []string{
		`t.yaml:6:26: groups[0].reconnect.backoff: must be none, fixed, exponential or full-jitter, got "linear"`,
		`t.yaml:6:52: groups[0].reconnect.max: must be >= initial (5s), got 1s`}},
	{"bad phase", head + "  - count: 1\n    telemetry: {every: 1s, phase: sync}\n", []string{
		`t.yaml:6:35: groups[0].telemetry.phase: must be random or aligned, got "sync"`}},
	{"size too large", head + "  - count: 1\n    telemetry: {every: 1s, size: 300MiB}\n", []string{
		`t.yaml:6:34: groups[0].telemetry.size: must be 0 to 256MiB, got 300MiB`}},
	{"bad size", head + "  - count: 1\n    telemetry: {every: 1s, size: 12KB}\n", []string{
		`t.yaml:6:34: groups[0].telemetry.size: size "12KB": want a whole number of B, KiB, MiB or GiB, such as 128B`}},
	{"unknown placeholder, plain", head + "  - count: 1\n    telemetry:\n      every: 1s\n      topic: up/{{nope}}\n", []string{
		`t.yaml:8:17: groups[0].telemetry.topic: unknown placeholder {{nope}}; known: id, index, device, group, seq, ts, time, rand, track, track8`}},
	{"unclosed placeholder, double-quoted", head + "  - count: 1\n    telemetry:\n      every: 1s\n      payload: \"{\\\"v\\\": {{rand\"\n", []string{
		`t.yaml:8:16: groups[0].telemetry.payload: unclosed {{`}},
	{"unclosed placeholder, single-quoted", head + "  - count: 1\n    telemetry:\n      every: 1s\n      payload: '{''v'': {{rand'\n", []string{
		`t.yaml:8:25: groups[0].telemetry.payload: unclosed {{`}},
	{"per-message topic and wildcard", head + "  - count: 1\n    telemetry:\n      every: 1s\n      topic: \"up/{{seq}}/#\"\n", []string{
		`t.yaml:8:14: groups[0].telemetry.topic: must not contain the wildcards + or #, got "up/{{seq}}/#"`,
		`t.yaml:8:14: groups[0].telemetry.topic: must not use per-message placeholders ({{seq}}, {{ts}}, {{time}}, {{rand}}, {{track}}, {{track8}})`}},
	{"bad rate", head + "  - count: 1\n    connect: {rate: fast}\n", []string{
		`t.yaml:6:21: groups[0].connect.rate: rate "fast": want N/unit, such as 500/s`}},
	{"bad duration", "version: 1\nname: t\nduration: 10 seconds\ngroups: [{count: 1}]\n", []string{
		`t.yaml:3:11: duration: must be a duration such as 30s, 150ms or 2m, got "10 seconds"`}},
	{"duration without unit", "version: 1\nname: t\nduration: 30\ngroups: [{count: 1}]\n", []string{
		`t.yaml:3:11: duration: must be a duration such as 30s, 150ms or 2m, got 30`}},
	{"bad threshold", head + "  - count: 1\nthresholds:\n  - \"connect.success >> 5\"\n", []string{
		`t.yaml:7:5: thresholds[0]: unknown operator ">>"; want one of <, <=, >, >=, ==, !=`}},
	{"thresholds naming no group or protocol", head + "  - {name: meters, count: 1}\nthresholds:\n  - \"group.pumps.messages.lost == 0\"\n  - \"protocol.coap.latency.e2e.p99 < 1s\"\n", []string{
		`t.yaml:7:5: thresholds[0]: no group is named "pumps" here: the groups are meters`,
		`t.yaml:8:5: thresholds[1]: no protocol is named "coap" here: the protocols are mqtt`}},
	{"version missing", "name: t\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:1:1: version: required: add version: 1`}},
	{"version 2", "version: 2\nname: t\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:1:10: version: must be 1, got 2`}},
	{"name missing", "version: 1\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:1:1: name: required: it names the output directory`}},
	{"name with a slash", "version: 1\nname: a/b\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:2:7: name: must be letters, digits, '.', '_' or '-', got "a/b"`}},
	{"name dot-dot", "version: 1\nname: ..\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:2:7: name: must not be only dots, got ".."`}},
	{"duration missing", "version: 1\nname: t\ngroups: [{count: 1}]\n", []string{
		`t.yaml:1:1: duration: required unless stages are given`}},
	{"duration shorter than stages", "version: 1\nname: t\nduration: 1m\ngroups: [{count: 5}]\nstages:\n  - {duration: 50s, devices: 5}\n  - {duration: 20s, devices: 0}\n", []string{
		`t.yaml:3:11: duration: must be at least the stages' total 1m10s, got 1m0s`}},
	{"duration too long", "version: 1\nname: t\nduration: 400h\ngroups: [{count: 1}]\n", []string{
		`t.yaml:3:11: duration: plus drain must be at most 300h0m0s, got 400h0m0s + 5s`}},
	{"drain negative", "version: 1\nname: t\nduration: 1s\ndrain: -1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:4:8: drain: must be >= 0, got -1s`}},
	{"seed negative", "version: 1\nname: t\nseed: -1\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:3:7: seed: must be a whole number from 0 to 18446744073709551615, got -1`}},
	{"stage problems", "version: 1\nname: t\ngroups: [{count: 5}]\nstages:\n  - {duration: 0s, devices: 6}\n  - {duration: 1s}\n", []string{
		`t.yaml:5:16: stages[0].duration: must be > 0, got 0s`,
		`t.yaml:5:29: stages[0].devices: must be 0 to the fleet size 5, got 6`,
		`t.yaml:6:5: stages[1].devices: required: the number of active devices at the end of the stage`}},
	{"groups missing", "version: 1\nname: t\nduration: 1s\n", []string{
		`t.yaml:1:1: groups: required: list at least one group of devices`}},
	{"bad broker", "version: 1\nname: t\nduration: 1s\ntarget: {broker: \"http://x\"}\ngroups: [{count: 1}]\n", []string{
		`t.yaml:4:18: target.broker: must be embedded, embedded+ws, tcp://host:port, mqtt://host:port, ws://host:port/path or wss://host:port/path (mqtts://, ssl:// or tls:// over TLS), got "http://x"`}},
	{"broker port zero", "version: 1\nname: t\nduration: 1s\ntarget: {broker: \"tcp://h:0\"}\ngroups: [{count: 1}]\n", []string{
		`t.yaml:4:18: target.broker: port must be 1 to 65535, got "0"`}},
	{"source addresses for a remote broker", "version: 1\nname: t\nduration: 1s\ntarget: {broker: \"tcp://10.0.0.1\", source_addresses: 4}\ngroups: [{count: 1}]\n", []string{
		`t.yaml:4:54: target.source_addresses: only applies to the embedded broker and loopback brokers, not tcp://10.0.0.1:1883`}},
	{"bad env name", "version: 1\nname: t\nduration: 1s\ntarget: {username_env: 1USER}\ngroups: [{count: 1}]\n", []string{
		`t.yaml:4:24: target.username_env: must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), got "1USER"`}},
	{"client id not unique", head + "  - count: 1\n    client_id: dev\n", []string{
		`t.yaml:6:16: groups[0].client_id: must use {{index}} or {{device}} so each device gets its own ID, got "dev"`}},
	{"client id per message", head + "  - count: 1\n    client_id: \"d-{{index}}-{{rand}}\"\n", []string{
		`t.yaml:6:16: groups[0].client_id: must not use per-message placeholders ({{seq}}, {{ts}}, {{time}}, {{rand}}, {{track}}, {{track8}})`}},
	{"client ids of two groups collide", head + "  - {name: a, count: 1, client_id: \"d-{{index}}\"}\n  - {name: b, count: 1, client_id: \"d-{{index}}\"}\n", []string{
		`t.yaml:6:36: groups[1].client_id: renders the same strings as groups[0].client_id; add {{group}} or use {{device}}`}},
	{"command topic not per device", head + "  - count: 1\n    commands: {every: 1s, topic: cmd/all}\n", []string{
		`t.yaml:6:34: groups[0].commands.topic: must use {{id}}, {{index}} or {{device}} so each device gets its own topic, got "cmd/all"`}},
	{"reply topic same as topic", head + "  - count: 1\n    requests: {every: 1s, topic: \"r/{{id}}\", reply_topic: \"r/{{id}}\"}\n", []string{
		`t.yaml:6:59: groups[0].requests.reply_topic: must differ from topic, got "r/{{id}}" for both`}},
	{"command topics of two groups collide", head +
		"  - {name: a, count: 1, commands: {every: 1s, topic: \"c/{{index}}\", reply_topic: \"c/{{id}}/r\"}}\n" +
		"  - {name: b, count: 1, commands: {every: 1s, topic: \"c/{{index}}\", reply_topic: \"c/{{id}}/r\"}}\n", []string{
		`t.yaml:6:54: groups[1].commands.topic: renders the same strings as groups[0].commands.topic; add {{group}} or use {{device}}`}},
	{"telemetry topic same as command topic", head + "  - count: 1\n    telemetry: {every: 1s, topic: \"x/{{id}}\"}\n    commands: {every: 1s, topic: \"x/{{id}}\"}\n", []string{
		`t.yaml:7:34: groups[0].commands.topic: is the same topic as groups[0].telemetry.topic`}},
	{"duplicate group name", head + "  - {name: a, count: 1}\n  - {name: a, count: 1}\n", []string{
		`t.yaml:6:12: groups[1].name: "a" is already the name of groups[0]`}},
	{"default group name taken", head + "  - {name: group-2, count: 1}\n  - {count: 1}\n", []string{
		`t.yaml:6:5: groups[1].name: "group-2" is already the name of groups[0]`}},
	{"backend connections out of range", head + "  - count: 1\nbackend: {connections: 100}\n", []string{
		`t.yaml:6:24: backend.connections: must be auto or 1 to 64, got 100`}},
	{"backend connections not a number", head + "  - count: 1\nbackend: {connections: many}\n", []string{
		`t.yaml:6:24: backend.connections: want auto or a whole number of connections from 1 to 64, got "many"`}},
	{"backend e2e not a share", head + "  - count: 1\nbackend: {e2e: 150%}\n", []string{
		`t.yaml:6:16: backend.e2e: want all, none or a percent from 0% to 100% such as 10%, got "150%"`}},
	{"duplicate key", "version: 1\nname: t\nname: u\nduration: 1s\ngroups: [{count: 1}]\n", []string{
		`t.yaml:3:1: duplicate key "name" (first at line 2)`}},
	{"tab indentation", "version: 1\ngroups:\n\t- count: 1\n", []string{
		`t.yaml:3:1: found character that cannot start any token (YAML indents with spaces, not tabs)`}},
	{"syntax error, parser", "version: 1\nname: t\n- x\n", []string{
		`t.yaml:3:1: did not find expected key`}},
	{"syntax error, scanner", "version: 1\nname: t\n  x: y\n", []string{
		`t.yaml:3:3: mapping values are not allowed in this context`}},
	{"unknown anchor", "version: 1\nname: *who\n", []string{
		`t.yaml:2:7: unknown anchor 'who' referenced`}},
	{"empty", "", []string{`t.yaml:1:1: empty document; a scenario starts with version: 1`}},
	{"only a comment", "# nothing\n", []string{`t.yaml:1:1: empty document; a scenario starts with version: 1`}},
	{"root a list", "- version: 1\n", []string{`t.yaml:1:1: a scenario is a mapping of keys such as version: 1, got a list`}},
	{"two documents", "version: 1\n---\nversion: 1\n", []string{`t.yaml:2:1: a scenario file holds one YAML document; found a second`}},
	{"invalid UTF-8", "version: 1\nname: \xff\n", []string{`t.yaml:2:7: invalid UTF-8 byte 0xff; scenarios are UTF-8 text`}},
	{"control character", "version: 1\nname: a\x01\n", []string{`t.yaml:2:8: control character U+0001 is not allowed`}},
	{"merge of itself", head + "  - &g\n    count: 1\n    <<: *g\n", []string{
		`t.yaml:7:9: groups[0]: alias *g is used inside its own anchor`}},
	{"merge of a scalar", head + "  - count: 1\n    <<: 5\n", []string{
		`t.yaml:6:9: groups[0]: << must merge a mapping or a list of mappings, got 5`}},
	{"several problems, sorted", "version: 3\nname: t\nduration: 1s\ngroups:\n  - count: 1\n    telemetry: {every: 1s, qos: 9}\n    bogus: 1\nthresholds: [\"nope\"]\n", []string{
		`t.yaml:1:10: version: must be 1, got 3`,
		`t.yaml:6:33: groups[0].telemetry.qos: must be 0, 1 or 2, got 9`,
		`t.yaml:7:5: groups[0]: unknown key "bogus"; known keys: name, count, protocol, coap, dtls, mqtt, tls, lwm2m, client_id, connect, reconnect, telemetry, commands, requests, radio, link, on_busy, queue, queue_bytes, queue_drop, sleep, downlink, collisions, http, websocket`,
		`t.yaml:8:14: thresholds[0]: want "<metric> <op> <value>", such as "latency.e2e.p99 < 250ms"`}},
}

func TestParseProblems(t *testing.T) {
	for _, tc := range problemCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("t.yaml", []byte(tc.in))
			var probs Problems
			if !errors.As(err, &probs) || s != nil {
				t.Fatalf("Parse(%q) = %v, %v; want nil and Problems", tc.in, s, err)
			}
			if got, want := problemStrings(probs), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("Parse(%q) problems:\n%s\nwant:\n%s", tc.in, got, want)
			}
		})
	}
}

func problemStrings(ps Problems) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func TestParseDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(head+"  - count: 3\n    telemetry: {every: 1s}\n    commands: {every: 2s}\n    requests: {every: 3s}\n"))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	g := s.Groups[0]
	tests := []struct {
		field string
		got   any
		want  any
	}{
		{"drain", s.Drain, 5 * time.Second},
		{"target.broker", s.Target.Broker, "embedded"},
		{"seed set", s.SeedSet(), false},
		{"name", g.Name, "group-1"},
		{"client_id", g.ClientID.String(), "{{group}}-{{index}}"},
		{"connect.rate", g.Connect.Rate.String(), "100/s"},
		{"connect.timeout", g.Connect.Timeout, 10 * time.Second},
		{"connect.keepalive", g.Connect.KeepAlive, 60 * time.Second},
		{"connect.clean_session", g.Connect.CleanSession, true},
		{"reconnect.backoff", g.Reconnect.Backoff, "exponential"},
		{"reconnect.initial", g.Reconnect.Initial, time.Second},
		{"reconnect.max", g.Reconnect.Max, 30 * time.Second},
		{"telemetry.phase", g.Telemetry.Phase, "random"},
		{"telemetry.topic", g.Telemetry.Topic.String(), "m2msim/{{group}}/{{id}}/up"},
		{"telemetry.payload", g.Telemetry.Payload.String(), `{"id":"{{id}}","seq":{{seq}},"ts":{{ts}},"value":{{rand}},"m2m":"{{track}}"}`},
		{"telemetry.qos", g.Telemetry.QoS, 0},
		{"commands.topic", g.Commands.Topic.String(), "m2msim/{{group}}/{{id}}/cmd"},
		{"commands.reply_topic", g.Commands.ReplyTopic.String(), "m2msim/{{group}}/{{id}}/cmd/reply"},
		{"commands.payload", g.Commands.Payload.String(), `{"cmd":"ping","m2m":"{{track}}"}`},
		{"requests.topic", g.Requests.Topic.String(), "m2msim/{{group}}/{{id}}/req"},
		{"requests.reply_topic", g.Requests.ReplyTopic.String(), "m2msim/{{group}}/{{id}}/req/reply"},
		{"requests.payload", g.Requests.Payload.String(), `{"req":"restock","m2m":"{{track}}"}`},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("default %s = %v, want %v", tc.field, tc.got, tc.want)
		}
	}
}

func TestParseKeepsExplicitZeros(t *testing.T) {
	s, err := Parse("t.yaml", []byte(head+"  - count: 3\n    connect: {keepalive: 0s, clean_session: false}\ndrain: 0s\nseed: 0\n"))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	c := s.Groups[0].Connect
	if c.KeepAlive != 0 || c.CleanSession || s.Drain != 0 || !s.SeedSet() {
		t.Errorf("Parse explicit zeros = keepalive %s, clean_session %t, drain %s, seed set %t; want 0s, false, 0s, true",
			c.KeepAlive, c.CleanSession, s.Drain, s.SeedSet())
	}
}

func TestParseDerivedDefaults(t *testing.T) {
	tests := []struct {
		in       string
		duration time.Duration
		broker   string
		max      time.Duration
	}{
		{"version: 1\nname: t\ngroups: [{count: 2}]\nstages: [{duration: 30s, devices: 1}, {duration: 1m, devices: 2}]\n",
			90 * time.Second, "embedded", 30 * time.Second},
		{"version: 1\nname: t\nduration: 1s\ntarget: {broker: \"mqtt://localhost\"}\ngroups: [{count: 2, reconnect: {initial: 1m}}]\n",
			time.Second, "mqtt://localhost:1883", time.Minute},
		{"version: 1\nname: t\nduration: 1s\ntarget: {broker: \"tcp://[::1]:1884\"}\ngroups: [{count: 2}]\n",
			time.Second, "tcp://[::1]:1884", 30 * time.Second},
	}
	for _, tc := range tests {
		s, err := Parse("t.yaml", []byte(tc.in))
		if err != nil {
			t.Errorf("Parse(%q) = %v", tc.in, err)
			continue
		}
		if s.Duration != tc.duration || s.Target.Broker != tc.broker || s.Groups[0].Reconnect.Max != tc.max {
			t.Errorf("Parse(%q) = duration %s, broker %s, max %s; want %s, %s, %s", tc.in,
				s.Duration, s.Target.Broker, s.Groups[0].Reconnect.Max, tc.duration, tc.broker, tc.max)
		}
	}
}

func TestParseMergeKeys(t *testing.T) {
	in := `version: 1
name: t
duration: 1s
groups:
  - &meter
    name: a
    count: 5
    connect: {rate: 50/s}
  - <<: *meter
    name: b
    count: 7
`
	s, err := Parse("t.yaml", []byte(in))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", in, err)
	}
	a, b := s.Groups[0], s.Groups[1]
	if a.Name != "a" || a.Count != 5 || b.Name != "b" || b.Count != 7 || b.Connect.Rate.Freq != 50 {
		t.Errorf("merged groups = %s/%d, %s/%d rate %s; want a/5, b/7 rate 50/s", a.Name, a.Count, b.Name, b.Count, b.Connect.Rate)
	}
}

func TestParseAliasBomb(t *testing.T) {
	// Each level merges the one before nine times: 9^12 mappings if
	// expanded in full.
	var b strings.Builder
	b.WriteString("version: 1\nname: t\nduration: 1s\ngroups:\n  - &l0 {count: 1}\n")
	for i := 1; i <= 12; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "  - &l%d {<<: [%s]}\n", i, refs)
	}
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	var probs Problems
	if !errors.As(err, &probs) || !strings.Contains(err.Error(), "aliases expand to more than") {
		t.Fatalf("Parse(alias bomb) = %v; want the alias budget problem", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse(alias bomb) took %s, want well under 5s", d)
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	s, err := Load("examples/quickstart.yaml")
	if err != nil || s.File != "examples/quickstart.yaml" {
		t.Errorf("Load(quickstart) = %v, %v; want File examples/quickstart.yaml", s, err)
	}
}
