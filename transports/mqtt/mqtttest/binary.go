package mqtttest

import "testing"

// MosquittoBinary returns the mosquitto executable's path, for tests that
// start it their own way (inside a namespace, from a scenario): a skip
// when it is missing outside CI, a failure in CI.
func MosquittoBinary(t testing.TB) string {
	t.Helper()
	return mosquittoBinary(t)
}
