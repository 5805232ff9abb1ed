package lwm2m

import (
	"errors"
	"strings"
)

// FirmwareState is the State resource of Firmware Update (/5/0/3).
type FirmwareState int64

// The states of the firmware update state machine (Core Appendix E.6).
const (
	FirmwareIdle        FirmwareState = 0
	FirmwareDownloading FirmwareState = 1
	FirmwareDownloaded  FirmwareState = 2
	FirmwareUpdating    FirmwareState = 3
)

var firmwareStateNames = [...]string{"Idle", "Downloading", "Downloaded", "Updating"}

// String returns the state's name.
func (s FirmwareState) String() string {
	if s >= 0 && int(s) < len(firmwareStateNames) {
		return firmwareStateNames[s]
	}
	return "FirmwareState(" + Int(int64(s)).String() + ")"
}

// UpdateResult is the Update Result resource of Firmware Update
// (/5/0/5).
type UpdateResult int64

// The update results of Firmware Update 1.0.
const (
	ResultInitial             UpdateResult = 0
	ResultSuccess             UpdateResult = 1
	ResultNoFlash             UpdateResult = 2 // not enough flash memory for the package
	ResultOutOfRAM            UpdateResult = 3 // out of RAM during download
	ResultConnectionLost      UpdateResult = 4 // connection lost during download
	ResultIntegrity           UpdateResult = 5 // integrity check failure
	ResultUnsupportedType     UpdateResult = 6 // unsupported package type
	ResultInvalidURI          UpdateResult = 7
	ResultUpdateFailed        UpdateResult = 8
	ResultUnsupportedProtocol UpdateResult = 9
)

// ErrFirmwareState reports a download or update outcome the state
// machine cannot take in its current state.
var ErrFirmwareState = errors.New("lwm2m: firmware update: outcome does not fit the state")

var (
	fwPackage  = ResourcePath(ObjectFirmware, 0, 0)
	fwURI      = ResourcePath(ObjectFirmware, 0, 1)
	fwState    = ResourcePath(ObjectFirmware, 0, 3)
	fwResult   = ResourcePath(ObjectFirmware, 0, 5)
	fwVersion  = ResourcePath(ObjectFirmware, 0, 7)
	devVersion = ResourcePath(ObjectDevice, 0, 3)
)

// supportedSchemes are the Package URI schemes of the protocols the
// device lists in /5/0/8 (0 CoAP, 1 CoAPS, 2 HTTP 1.1, 3 HTTPS 1.1).
var supportedSchemes = []string{"coap://", "coaps://", "http://", "https://"}

// FirmwareState returns the state and the last update result. A device
// client watches them after a Write to /5/0/1 (to start a download when
// Downloading) and after OnExecute of /5/0/2 (to simulate the update).
func (m *Model) FirmwareState() (FirmwareState, UpdateResult) {
	s, _ := m.Get(fwState)
	r, _ := m.Get(fwResult)
	return FirmwareState(s.Int()), UpdateResult(r.Int())
}

func (m *Model) setFirmware(s FirmwareState, r UpdateResult) {
	_ = m.Set(fwState, Int(int64(s)))
	_ = m.Set(fwResult, Int(int64(r)))
}

// firmwareWrite applies the transitions a Write of Package or Package
// URI makes (pull and push delivery both supported):
//
//	Idle        --URI written--------> Downloading (result 0)
//	Idle        --Package written----> Downloaded  (result 0)
//	any but Updating --"" or empty Package--> Idle (result 0)
//
// A URI of a scheme the device does not speak leaves it Idle with result
// 9, an unparsable one with result 7, and the Write fails with 4.00. A
// new package while one is in progress fails with 4.05.
func (m *Model) firmwareWrite(recs []Record) error {
	for _, r := range recs {
		if r.Path != fwURI && r.Path != fwPackage {
			continue
		}
		if err := m.firmwareTransition(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *Model) firmwareTransition(r Record) error {
	state, _ := m.FirmwareState()
	empty := r.Value.Str() == "" || r.Value.Str() == "\x00"
	switch {
	case empty && state == FirmwareUpdating:
		return notAllowed("firmware update: cannot reset while Updating")
	case empty:
		m.setFirmware(FirmwareIdle, ResultInitial)
	case state != FirmwareIdle:
		return notAllowed("firmware update: a package is in progress (state %v)", state)
	case r.Path == fwPackage:
		m.setFirmware(FirmwareDownloaded, ResultInitial)
	default:
		return m.firmwareURI(r.Value.Str())
	}
	return nil
}

func (m *Model) firmwareURI(uri string) error {
	for _, s := range supportedSchemes {
		if strings.HasPrefix(uri, s) && len(uri) > len(s) {
			m.setFirmware(FirmwareDownloading, ResultInitial)
			return nil
		}
	}
	if scheme, _, ok := strings.Cut(uri, "://"); ok && scheme != "" {
		m.setFirmware(FirmwareIdle, ResultUnsupportedProtocol)
		return badRequest("firmware update: unsupported protocol %q", clip(scheme))
	}
	m.setFirmware(FirmwareIdle, ResultInvalidURI)
	return badRequest("firmware update: invalid uri %q", clip(uri))
}

// firmwareExecute runs Update: Downloaded -> Updating, 4.05 otherwise.
func (m *Model) firmwareExecute() error {
	if state, _ := m.FirmwareState(); state != FirmwareDownloaded {
		return notAllowed("firmware update: update in state %v", state)
	}
	m.setFirmware(FirmwareUpdating, ResultInitial)
	return nil
}

// FirmwareDownloaded ends a download the device client ran after the
// state went Downloading: ResultInitial moves to Downloaded; a failure
// (ResultNoFlash, ResultOutOfRAM, ResultConnectionLost, ResultIntegrity,
// ResultUnsupportedType, ResultInvalidURI, ResultUnsupportedProtocol)
// back to Idle with that result. ErrFirmwareState outside Downloading or
// for another result.
func (m *Model) FirmwareDownloaded(r UpdateResult) error {
	if state, _ := m.FirmwareState(); state != FirmwareDownloading {
		return ErrFirmwareState
	}
	switch r {
	case ResultInitial:
		m.setFirmware(FirmwareDownloaded, ResultInitial)
	case ResultNoFlash, ResultOutOfRAM, ResultConnectionLost, ResultIntegrity,
		ResultUnsupportedType, ResultInvalidURI, ResultUnsupportedProtocol:
		m.setFirmware(FirmwareIdle, r)
	default:
		return ErrFirmwareState
	}
	return nil
}

// FirmwareUpdated ends an update the device client ran after Execute on
// /5/0/2: ResultSuccess returns to Idle and makes PkgVersion (when set)
// the device's Firmware Version; a failure (ResultUpdateFailed,
// ResultNoFlash, ResultOutOfRAM, ResultIntegrity) returns to Downloaded
// with that result, the package kept for another try. ErrFirmwareState
// outside Updating or for another result.
func (m *Model) FirmwareUpdated(r UpdateResult) error {
	if state, _ := m.FirmwareState(); state != FirmwareUpdating {
		return ErrFirmwareState
	}
	switch r {
	case ResultSuccess:
		m.setFirmware(FirmwareIdle, ResultSuccess)
		if v, _ := m.Get(fwVersion); v.Str() != "" {
			_ = m.Set(devVersion, v)
		}
	case ResultUpdateFailed, ResultNoFlash, ResultOutOfRAM, ResultIntegrity:
		m.setFirmware(FirmwareDownloaded, r)
	default:
		return ErrFirmwareState
	}
	return nil
}
