package lwm2m

import (
	"errors"
	"testing"
)

// fwStep is one event of a firmware update and the state and result it
// leaves.
type fwStep struct {
	do     func(m *Model) error
	err    error // nil, ErrBadRequest, ErrMethodNotAllowed or ErrFirmwareState
	state  FirmwareState
	result UpdateResult
}

func writeURI(uri string) func(*Model) error {
	return func(m *Model) error { return m.Write(fwURI, []Record{{Path: fwURI, Value: String(uri)}}, true) }
}

func writePackage(b []byte) func(*Model) error {
	return func(m *Model) error { return m.Write(fwPackage, []Record{{Path: fwPackage, Value: Opaque(b)}}, true) }
}

func update(m *Model) error { return m.Execute(ResourcePath(ObjectFirmware, 0, 2), nil) }

func downloaded(r UpdateResult) func(*Model) error {
	return func(m *Model) error { return m.FirmwareDownloaded(r) }
}

func updated(r UpdateResult) func(*Model) error {
	return func(m *Model) error { return m.FirmwareUpdated(r) }
}

func TestFirmwareStateMachine(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []fwStep
	}{
		{"pull, update succeeds", []fwStep{
			{writeURI("coap://fw.example/v2"), nil, FirmwareDownloading, ResultInitial},
			{downloaded(ResultInitial), nil, FirmwareDownloaded, ResultInitial},
			{update, nil, FirmwareUpdating, ResultInitial},
			{updated(ResultSuccess), nil, FirmwareIdle, ResultSuccess},
		}},
		{"push, update fails then succeeds", []fwStep{
			{writePackage([]byte{1, 2, 3}), nil, FirmwareDownloaded, ResultInitial},
			{update, nil, FirmwareUpdating, ResultInitial},
			{updated(ResultUpdateFailed), nil, FirmwareDownloaded, ResultUpdateFailed},
			{update, nil, FirmwareUpdating, ResultInitial},
			{updated(ResultSuccess), nil, FirmwareIdle, ResultSuccess},
		}},
		{"download fails", []fwStep{
			{writeURI("https://fw.example/v2"), nil, FirmwareDownloading, ResultInitial},
			{downloaded(ResultIntegrity), nil, FirmwareIdle, ResultIntegrity},
		}},
		{"cancel while downloading, and after download", []fwStep{
			{writeURI("coaps://fw.example/v2"), nil, FirmwareDownloading, ResultInitial},
			{writeURI(""), nil, FirmwareIdle, ResultInitial},
			{writePackage([]byte{1}), nil, FirmwareDownloaded, ResultInitial},
			{writePackage([]byte{0}), nil, FirmwareIdle, ResultInitial},
		}},
		{"unsupported protocol and invalid uri", []fwStep{
			{writeURI("coap+tcp://fw.example/v2"), ErrBadRequest, FirmwareIdle, ResultUnsupportedProtocol},
			{writeURI("not a uri"), ErrBadRequest, FirmwareIdle, ResultInvalidURI},
		}},
		{"refused transitions", []fwStep{
			{update, ErrMethodNotAllowed, FirmwareIdle, ResultInitial},
			{downloaded(ResultInitial), ErrFirmwareState, FirmwareIdle, ResultInitial},
			{writeURI("http://fw.example/v2"), nil, FirmwareDownloading, ResultInitial},
			{writeURI("http://fw.example/v3"), ErrMethodNotAllowed, FirmwareDownloading, ResultInitial},
			{update, ErrMethodNotAllowed, FirmwareDownloading, ResultInitial},
			{updated(ResultSuccess), ErrFirmwareState, FirmwareDownloading, ResultInitial},
			{downloaded(ResultSuccess), ErrFirmwareState, FirmwareDownloading, ResultInitial},
			{downloaded(ResultInitial), nil, FirmwareDownloaded, ResultInitial},
			{update, nil, FirmwareUpdating, ResultInitial},
			{writeURI(""), ErrMethodNotAllowed, FirmwareUpdating, ResultInitial},
			{updated(ResultConnectionLost), ErrFirmwareState, FirmwareUpdating, ResultInitial},
		}},
	} {
		m := NewModel(Config{})
		for i, s := range c.steps {
			err := s.do(m)
			if (s.err == nil) != (err == nil) || (s.err != nil && !errors.Is(err, s.err)) {
				t.Errorf("%s: step %d = %v, want %v", c.name, i, err, s.err)
			}
			if st, r := m.FirmwareState(); st != s.state || r != s.result {
				t.Errorf("%s: after step %d: %v, result %d; want %v, %d", c.name, i, st, r, s.state, s.result)
			}
		}
	}
}

func TestFirmwareVersionAfterUpdate(t *testing.T) {
	m := NewModel(Config{FirmwareVersion: "1.0.0"})
	if err := m.Set(fwVersion, String("2.0.0")); err != nil {
		t.Fatal(err)
	}
	for _, step := range []func(*Model) error{writeURI("coap://fw/2"), downloaded(ResultInitial), update, updated(ResultSuccess)} {
		if err := step(m); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := m.Get(devVersion); v.Str() != "2.0.0" {
		t.Errorf("Firmware Version after the update = %q", v.Str())
	}
	if FirmwareUpdating.String() != "Updating" || FirmwareState(9).String() != "FirmwareState(9)" {
		t.Error("FirmwareState names")
	}
}
