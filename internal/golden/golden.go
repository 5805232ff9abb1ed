// Package golden compares a test's output with a file kept under
// testdata, or rewrites the file when the test runs with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update is the -update flag of every test binary that uses the package.
var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

// Updating says whether the test binary runs with -update.
func Updating() bool { return *update }

// Check compares got with testdata/name, or with -update writes got
// there. A difference fails the test, showing got.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}
