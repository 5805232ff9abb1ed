//go:build race

package mqtt_test

// raceEnabled is true under the race detector, which slows code down
// several times over: throughput assertions do not hold there.
const raceEnabled = true
