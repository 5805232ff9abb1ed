package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The files WriteAll writes.
const (
	HTMLFile     = "report.html"
	JUnitFile    = "junit.xml"
	MarkdownFile = "summary.md"
	CSVFile      = "timeseries.csv"
)

// WriteAll writes report.html, junit.xml, summary.md and timeseries.csv
// into dir, creating it, and returns their paths in that order. Each file
// is written atomically (a temporary file renamed into place), so readers
// see the old file or the whole new one. It renders everything before
// writing anything: input that fails to render leaves dir as it was.
func WriteAll(dir string, in Input) ([]string, error) {
	if in.Result == nil {
		return nil, fmt.Errorf("write reports: %w", errNoResult)
	}
	files := []struct {
		name   string
		render func(b *bytes.Buffer) error
	}{
		{HTMLFile, func(b *bytes.Buffer) error { return HTML(b, in) }},
		{JUnitFile, func(b *bytes.Buffer) error { return JUnit(b, in.Result) }},
		{MarkdownFile, func(b *bytes.Buffer) error { return Markdown(b, in) }},
		{CSVFile, func(b *bytes.Buffer) error { return CSV(b, in.Points) }},
	}
	bufs := make([]bytes.Buffer, len(files))
	for i, f := range files {
		if err := f.render(&bufs[i]); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write reports: %w", err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f.name)
		if err := writeFile(paths[i], bufs[i].Bytes()); err != nil {
			return paths[:i], err
		}
	}
	return paths, nil
}

// writeFile writes b to path atomically, readable by all: the reports
// are meant to be shared.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	err = errors.Join(err, f.Chmod(0o644), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
