package report

import (
	"bytes"
	"fmt"
	"testing"
)

// A result rebuilt from its metrics section alone, after a trip through
// JSON, is the result the collector wrote: every figure derives from the
// metrics.
func TestRebuildFromMetricsIsIdentical(t *testing.T) {
	for _, g := range goldens {
		r := g.result(t)
		want, read := viaJSON(t, r)
		rebuilt, err := Rebuild(read)
		if err != nil {
			t.Fatalf("Rebuild(result%s): %v", g.name, err)
		}
		rebuilt.Status = r.Status // an aborted run stays aborted in the file
		got, err := MarshalResult(rebuilt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Rebuild(result%s) differs:\n%s", g.name, firstDiff(got, want))
		}
	}
}

// viaJSON writes r as result.json and reads it back, returning both.
func viaJSON(t *testing.T, r *Result) ([]byte, *Result) {
	t.Helper()
	b, err := MarshalResult(r)
	if err != nil {
		t.Fatal(err)
	}
	read, err := UnmarshalResult(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, read
}

// firstDiff shows the lines around the first difference of a and b.
func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, la[i], lb[i])
		}
	}
	return "lengths differ"
}
