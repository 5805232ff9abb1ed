package render

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteAll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results", "ramp")
	in := fixtureInput()
	paths, err := WriteAll(dir, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{HTMLFile, JUnitFile, MarkdownFile, CSVFile}
	for i, p := range paths {
		if filepath.Dir(p) != dir || filepath.Base(p) != want[i] {
			t.Errorf("WriteAll path %d = %s, want %s", i, p, filepath.Join(dir, want[i]))
		}
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 || info.Size() == 0 {
			t.Errorf("%s: mode %v, %d bytes; want 0644 and content", p, info.Mode().Perm(), info.Size())
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("dir holds %q, want only %q (no temporary files)", names, want)
	}
	var md bytes.Buffer
	if err := Markdown(&md, in); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(paths[2]); !bytes.Equal(got, md.Bytes()) {
		t.Error("summary.md differs from Markdown's output")
	}
}

func TestWriteAllErrors(t *testing.T) {
	if _, err := WriteAll(t.TempDir(), Input{}); !errors.Is(err, errNoResult) {
		t.Errorf("WriteAll(no result) = %v, want %v", err, errNoResult)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteAll(file, minimalInput()); err == nil {
		t.Error("WriteAll into a file = nil, want an error")
	}
}
