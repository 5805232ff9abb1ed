package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// ErrUnknownSchema means a result file is not in a format this version
// reads.
var ErrUnknownSchema = errors.New("unknown result schema")

// MarshalResult encodes r as indented JSON with a trailing newline, the
// bytes WriteJSON writes. Arrays of numbers (the series) stay on one line
// each, so an hour-long run reads as seven lines of series, not 25,000.
func MarshalResult(r *Result) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep "<" readable in threshold expressions
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	b := numberArray.ReplaceAllFunc(buf.Bytes(), oneLine)
	return histogramObject.ReplaceAllFunc(b, oneLine), nil
}

// oneLine puts an indented JSON array or object of scalars on one line.
func oneLine(a []byte) []byte {
	a = space.ReplaceAll(a, nil)
	a = bytes.ReplaceAll(a, []byte(`,"`), []byte(`, "`))
	return bytes.ReplaceAll(bytes.ReplaceAll(a, []byte(`":`), []byte(`": `)), []byte(","), []byte(", "))
}

// numberArray matches an indented array of numbers and nulls. It must
// start with a newline, which no JSON string holds, so it never matches
// inside one.
var numberArray = regexp.MustCompile(`\[\n[-+.eE0-9,\snul]*\]`)

// histogramObject matches an indented Histogram: one line each, so that
// an hour of intervals reads as an hour of lines. Base64 holds no
// braces, brackets or newlines.
var histogramObject = regexp.MustCompile(`\{\n\s*"n": [^{}\[\]]*\}`)

var space = regexp.MustCompile(`\s+`)

// WriteJSON writes r to path atomically: readers see the old file or the
// whole new one, never a torn write. It creates path's directory.
func WriteJSON(path string, r *Result) error {
	b, err := MarshalResult(r)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if err := writeAndClose(f, b); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write result: %w", err)
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

// ReadJSON reads a result written by WriteJSON, of schema Schema or
// SchemaV1. It rejects files of any other schema with an error wrapping
// ErrUnknownSchema; unknown fields are ignored, so files from later v2
// writers still read.
func ReadJSON(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	r, err := UnmarshalResult(b)
	if err != nil {
		return nil, fmt.Errorf("read result %s: %w", path, err)
	}
	return r, nil
}

// UnmarshalResult decodes a result from JSON, checking its schema first.
// A v1 result comes back as a v2 one (see upgradeV1).
func UnmarshalResult(b []byte) (*Result, error) {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("no schema field, want %q: %w", Schema, ErrUnknownSchema)
	case *head.Schema != Schema && *head.Schema != SchemaV1:
		return nil, fmt.Errorf("schema %q, want %q: %w", *head.Schema, Schema, ErrUnknownSchema)
	}
	r := &Result{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	if r.Errors == nil {
		r.Errors = ErrorCounts{}
	}
	if r.Thresholds == nil {
		r.Thresholds = []ThresholdResult{}
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if r.Schema == SchemaV1 {
		upgradeV1(r)
	}
	return r, nil
}

// upgradeV1 fills in what a v1 result lacks. A v1 writer timed every
// device end to end, so every message sent was timed, and its unanswered
// exchanges follow from its counts. It did not say where lost messages
// were lost (they stay unattributed), nor count what never finished (the
// percentiles stand over the finished flows, as written).
func upgradeV1(r *Result) {
	r.Schema = Schema
	r.Messages.Timed = r.Messages.Sent
	r.Commands.Unanswered = max(0, r.Commands.Sent-r.Commands.Replied)
	r.Requests.Unanswered = max(0, r.Requests.Sent-r.Requests.Answered)
	for i := range r.Stages {
		r.Stages[i].Messages.Timed = r.Stages[i].Messages.Sent
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		g.Messages.Timed, g.TimedDevices = g.Messages.Sent, g.Devices
	}
	r.Backend.E2E = Sample{Fraction: 1, Devices: r.Devices.Planned, Fleet: r.Devices.Planned}
}
