// Package rootonly gates the tests that need root: network namespaces,
// TUN devices and qdiscs. CI runs as root, so there such a test runs or
// fails; elsewhere it is skipped, saying why.
package rootonly

import (
	"os"
	"testing"
)

// Need skips t when the process is not root and CI is unset, and fails
// it when CI is set: a test that needs root must not pass unrun in CI.
func Need(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "" {
		t.Skip("needs root (network namespaces, TUN devices, qdiscs); run as root")
	}
	t.Fatal("needs root (network namespaces, TUN devices, qdiscs); CI runs as root")
}
