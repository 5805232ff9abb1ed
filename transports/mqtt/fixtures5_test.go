package mqtt

// Wire5 holds MQTT 5 packets byte for byte, written from the MQTT 5.0
// spec (sections 2.2.2, 3.1-3.14): codec5_test.go encodes and decodes
// them, and the wire tests (package mqtt_test) script brokers with them.
var Wire5 = map[string]string{
	// CONNECT: client id "d1", keepalive 60, clean start; properties:
	// session expiry 3600, receive maximum 16, topic alias maximum 8,
	// user property k=v.
	"connect": "1021" + "00044d515454" + "05" + "02" + "003c" +
		"12" + "1100000e10" + "210010" + "220008" + "2600016b000176" + "00026431",
	// CONNECT: client id "d", nothing else.
	"connect bare": "100e" + "00044d515454" + "05" + "00" + "0000" + "00" + "000164",
	// CONNACK success: receive maximum 20, topic alias maximum 10,
	// maximum QoS 1.
	"connack": "200b" + "0000" + "08" + "210014" + "22000a" + "2401",
	// CONNACK success with no properties at all.
	"connack bare": "2003000000",
	// CONNACK refused: 0x87 not authorized, reason string "no".
	"connack not authorized": "2008" + "0087" + "05" + "1f00026e6f",
	// PUBLISH qos 0 "a/b" "hi!", no properties.
	"publish qos0": "3009" + "0003612f62" + "00" + "686921",
	// PUBLISH qos 1 id 7 "a/b": sets topic alias 1, message expiry 30 s.
	"publish alias set": "3213" + "0003612f62" + "0007" + "08" + "230001" + "020000001e" + "686921",
	// PUBLISH qos 1 id 8 through topic alias 1 (empty topic).
	"publish alias used": "3210" + "0000" + "0008" + "08" + "230001" + "020000001e" + "686921",
	// PUBLISH qos 0 "z" "p" with user property k=v.
	"publish user property": "300c" + "00017a" + "07" + "2600016b000176" + "70",
	// PUBACK id 7, success (reason code omitted).
	"puback": "40020007",
	// PUBACK id 7, 0x10 no matching subscribers.
	"puback no subscribers": "4003000710",
	// PUBACK id 7, 0x01: not a PUBACK code, but mochi 2.7.9 sends it for
	// every QoS 1 message.
	"puback mochi": "4003000701",
	// PUBACK id 7, 0x87 not authorized, reason string "no".
	"puback not authorized": "4009" + "0007" + "87" + "05" + "1f00026e6f",
	// SUBSCRIBE id 1: "cmd/#" at qos 1, no properties.
	"subscribe": "820b" + "0001" + "00" + "0005636d642f23" + "01",
	// SUBACK id 1: granted qos 1, then 0x87 not authorized.
	"suback": "9005" + "0001" + "00" + "0187",
	// DISCONNECT 0x8e session taken over, no properties.
	"disconnect taken over": "e0028e00",
}
