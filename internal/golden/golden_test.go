package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeT records whether Check failed, without failing the real test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }
func (f *fakeT) Fatal(...any)          { f.failed = true }

func TestCheck(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "x.golden"), []byte("same"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, got string
		fail      bool
	}{{"x.golden", "same", false}, {"x.golden", "other", true}, {"missing.golden", "x", true}} {
		f := &fakeT{TB: t}
		Check(f, tc.name, []byte(tc.got))
		if f.failed != tc.fail {
			t.Errorf("Check(%s, %q) failed = %v, want %v", tc.name, tc.got, f.failed, tc.fail)
		}
	}
}
