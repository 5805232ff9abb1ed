package lwm2m

import (
	"slices"
	"strings"
)

// Operations are what a server may do to a resource: Read, Write,
// Execute, or nothing (the Security object's resources, which only the
// bootstrap server touches).
type Operations uint8

// The operations of a resource definition.
const (
	OpRead Operations = 1 << iota
	OpWrite
	OpExecute
)

// String returns "R", "RW", "E" ... or "" for none.
func (o Operations) String() string {
	var sb strings.Builder
	for i, c := range "RWE" {
		if o&(1<<i) != 0 {
			sb.WriteRune(c)
		}
	}
	return sb.String()
}

// ResourceDef defines one resource of an object (the OMA registry's
// object XML, trimmed to what a device needs).
type ResourceDef struct {
	ID        uint16
	Name      string
	Ops       Operations
	Multiple  bool // multi-instance resource
	Mandatory bool
	Type      Type
	Units     string
}

// ObjectDef defines one object: its id, version and resources, sorted by
// id.
type ObjectDef struct {
	ID        uint16
	Name      string
	Version   string // object version: "1.0" unless the definition is newer
	Multiple  bool   // multi-instance object
	Mandatory bool
	Resources []ResourceDef
}

// Resource returns the definition of resource id.
func (d *ObjectDef) Resource(id uint16) (*ResourceDef, bool) {
	i, ok := slices.BinarySearchFunc(d.Resources, id, func(r ResourceDef, id uint16) int { return int(r.ID) - int(id) })
	if !ok {
		return nil, false
	}
	return &d.Resources[i], true
}

// The objects a simulated device implements.
const (
	ObjectSecurity     uint16 = 0
	ObjectServer       uint16 = 1
	ObjectDevice       uint16 = 3
	ObjectConnectivity uint16 = 4
	ObjectFirmware     uint16 = 5
	ObjectLocation     uint16 = 6
	ObjectTemperature  uint16 = 3303
)

// Definition returns the definition of an object the device implements.
// The result is a copy: changing it changes no device.
func Definition(id uint16) (ObjectDef, bool) {
	for _, d := range definitions {
		if d.ID == id {
			d.Resources = slices.Clone(d.Resources)
			return d, true
		}
	}
	return ObjectDef{}, false
}

const (
	single   = false
	multiple = true
	optional = false
	mand     = true
	none     = Operations(0)
	opR      = OpRead
	opRW     = OpRead | OpWrite
	opW      = OpWrite
	opE      = OpExecute
)

// definitions follow the OMA LwM2M registry: Security, Device,
// Connectivity Monitoring, Firmware Update and Location at version 1.0
// (their 1.0 resources, which later versions keep), Server at 1.1 (it
// adds the Bootstrap-Request Trigger and later resources), IPSO
// Temperature at 1.0.
var definitions = []ObjectDef{
	{ObjectSecurity, "LwM2M Security", "1.0", multiple, mand, []ResourceDef{
		{0, "LwM2M Server URI", none, single, mand, TypeString, ""},
		{1, "Bootstrap-Server", none, single, mand, TypeBoolean, ""},
		{2, "Security Mode", none, single, mand, TypeInteger, ""},
		{3, "Public Key or Identity", none, single, mand, TypeOpaque, ""},
		{4, "Server Public Key", none, single, mand, TypeOpaque, ""},
		{5, "Secret Key", none, single, mand, TypeOpaque, ""},
		{10, "Short Server ID", none, single, optional, TypeInteger, ""},
		{11, "Client Hold Off Time", none, single, optional, TypeInteger, "s"},
	}},
	{ObjectServer, "LwM2M Server", "1.1", multiple, mand, []ResourceDef{
		{0, "Short Server ID", opR, single, mand, TypeInteger, ""},
		{1, "Lifetime", opRW, single, mand, TypeInteger, "s"},
		{2, "Default Minimum Period", opRW, single, optional, TypeInteger, "s"},
		{3, "Default Maximum Period", opRW, single, optional, TypeInteger, "s"},
		{4, "Disable", opE, single, optional, TypeNone, ""},
		{5, "Disable Timeout", opRW, single, optional, TypeInteger, "s"},
		{6, "Notification Storing When Disabled or Offline", opRW, single, mand, TypeBoolean, ""},
		{7, "Binding", opRW, single, mand, TypeString, ""},
		{8, "Registration Update Trigger", opE, single, mand, TypeNone, ""},
		{9, "Bootstrap-Request Trigger", opE, single, optional, TypeNone, ""},
		{22, "Preferred Transport", opRW, single, optional, TypeString, ""},
		{23, "Mute Send", opRW, single, optional, TypeBoolean, ""},
	}},
	{ObjectDevice, "Device", "1.0", single, mand, []ResourceDef{
		{0, "Manufacturer", opR, single, optional, TypeString, ""},
		{1, "Model Number", opR, single, optional, TypeString, ""},
		{2, "Serial Number", opR, single, optional, TypeString, ""},
		{3, "Firmware Version", opR, single, optional, TypeString, ""},
		{4, "Reboot", opE, single, mand, TypeNone, ""},
		{5, "Factory Reset", opE, single, optional, TypeNone, ""},
		{6, "Available Power Sources", opR, multiple, optional, TypeInteger, ""},
		{7, "Power Source Voltage", opR, multiple, optional, TypeInteger, "mV"},
		{8, "Power Source Current", opR, multiple, optional, TypeInteger, "mA"},
		{9, "Battery Level", opR, single, optional, TypeInteger, "%"},
		{10, "Memory Free", opR, single, optional, TypeInteger, "KiB"},
		{11, "Error Code", opR, multiple, mand, TypeInteger, ""},
		{12, "Reset Error Code", opE, single, optional, TypeNone, ""},
		{13, "Current Time", opRW, single, optional, TypeTime, ""},
		{14, "UTC Offset", opRW, single, optional, TypeString, ""},
		{15, "Timezone", opRW, single, optional, TypeString, ""},
		{16, "Supported Binding and Modes", opR, single, mand, TypeString, ""},
		{17, "Device Type", opR, single, optional, TypeString, ""},
		{18, "Hardware Version", opR, single, optional, TypeString, ""},
		{19, "Software Version", opR, single, optional, TypeString, ""},
		{20, "Battery Status", opR, single, optional, TypeInteger, ""},
		{21, "Memory Total", opR, single, optional, TypeInteger, "KiB"},
	}},
	{ObjectConnectivity, "Connectivity Monitoring", "1.0", single, optional, []ResourceDef{
		{0, "Network Bearer", opR, single, mand, TypeInteger, ""},
		{1, "Available Network Bearer", opR, multiple, mand, TypeInteger, ""},
		{2, "Radio Signal Strength", opR, single, mand, TypeInteger, "dBm"},
		{3, "Link Quality", opR, single, optional, TypeInteger, ""},
		{4, "IP Addresses", opR, multiple, mand, TypeString, ""},
		{6, "Link Utilization", opR, single, optional, TypeInteger, "%"},
		{7, "APN", opR, multiple, optional, TypeString, ""},
		{8, "Cell ID", opR, single, optional, TypeInteger, ""},
		{9, "SMNC", opR, single, optional, TypeInteger, ""},
		{10, "SMCC", opR, single, optional, TypeInteger, ""},
	}},
	{ObjectFirmware, "Firmware Update", "1.0", single, optional, []ResourceDef{
		{0, "Package", opW, single, mand, TypeOpaque, ""},
		{1, "Package URI", opRW, single, mand, TypeString, ""},
		{2, "Update", opE, single, mand, TypeNone, ""},
		{3, "State", opR, single, mand, TypeInteger, ""},
		{5, "Update Result", opR, single, mand, TypeInteger, ""},
		{6, "PkgName", opR, single, optional, TypeString, ""},
		{7, "PkgVersion", opR, single, optional, TypeString, ""},
		{8, "Firmware Update Protocol Support", opR, multiple, optional, TypeInteger, ""},
		{9, "Firmware Update Delivery Method", opR, single, mand, TypeInteger, ""},
	}},
	{ObjectLocation, "Location", "1.0", single, optional, []ResourceDef{
		{0, "Latitude", opR, single, mand, TypeFloat, "lat"},
		{1, "Longitude", opR, single, mand, TypeFloat, "lon"},
		{2, "Altitude", opR, single, optional, TypeFloat, "m"},
		{3, "Radius", opR, single, optional, TypeFloat, "m"},
		{5, "Timestamp", opR, single, mand, TypeTime, ""},
		{6, "Speed", opR, single, optional, TypeFloat, "m/s"},
	}},
	{ObjectTemperature, "Temperature", "1.0", multiple, optional, []ResourceDef{
		{5601, "Min Measured Value", opR, single, optional, TypeFloat, "Cel"},
		{5602, "Max Measured Value", opR, single, optional, TypeFloat, "Cel"},
		{5603, "Min Range Value", opR, single, optional, TypeFloat, "Cel"},
		{5604, "Max Range Value", opR, single, optional, TypeFloat, "Cel"},
		{5605, "Reset Min and Max Measured Values", opE, single, optional, TypeNone, ""},
		{5700, "Sensor Value", opR, single, mand, TypeFloat, "Cel"},
		{5701, "Sensor Units", opR, single, optional, TypeString, ""},
		{5750, "Application Type", opRW, single, optional, TypeString, ""},
	}},
}
