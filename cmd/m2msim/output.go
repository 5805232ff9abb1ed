package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/m2msim/m2msim/report"
)

// resultName is the result file's name in the --out directory.
const resultName = "result.json"

// checkOut makes sure a result can be written to dir before anything
// runs: it creates dir and creates and removes a file there.
func checkOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".m2msim-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// outError explains an unwritable --out directory.
func outError(dir string, defaulted bool, err error) error {
	flag := "--out " + dir
	if defaulted {
		flag += " (the default)"
	}
	return usageErr("run: cannot write to %s: %v (nothing was run)", flag, err)
}

// saveResult writes r to dir/result.json atomically (a temporary file in
// dir, renamed over it), so readers never see a torn file. If that fails
// it writes r to a new file in the system's temporary directory instead
// and returns that file's path with the error; if both fail, the path is
// empty.
func saveResult(dir string, r *report.Result) (string, error) {
	b, err := report.MarshalResult(r)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, resultName)
	err = writeAtomic(path, b)
	if err == nil {
		return path, nil
	}
	f, ferr := os.CreateTemp("", "m2msim-result-*.json")
	if ferr == nil {
		if ferr = writeAndClose(f, b); ferr == nil {
			return f.Name(), err
		}
		os.Remove(f.Name())
	}
	return "", errors.Join(err, fmt.Errorf("fallback: %w", ferr))
}

// writeAtomic writes b to path through a temporary file in path's
// directory, which it creates.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	if err := writeAndClose(f, b); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// writeAndClose writes b to f, flushes it to disk and closes it. The mode
// is widened from CreateTemp's 0600: results are meant to be shared.
func writeAndClose(f *os.File, b []byte) error {
	_, err := f.Write(b)
	err = errors.Join(err, f.Chmod(0o644), f.Sync())
	return errors.Join(err, f.Close())
}

// resultLost is the last resort when no file could take the result: it
// goes to w (stderr), so that it is never lost silently.
func resultLost(w io.Writer, r *report.Result) {
	b, err := report.MarshalResult(r)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "m2msim: the result could not be written to any file; here it is:\n%s", b)
}
