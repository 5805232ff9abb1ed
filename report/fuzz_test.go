package report

import (
	"os"
	"path/filepath"
	"testing"
)

// A result file from anywhere (a damaged artefact, a hand edit, another
// version) is read, rebuilt, cut into a timeline and merged without a
// panic: it is used or refused with an error.
func FuzzResultFile(f *testing.F) {
	for _, name := range []string{"result.golden.json", "result-knee.golden.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema":"m2msim.result/v2","metrics":{"interval_s":1,"intervals":2,"latency":{"ack":{"run":{"n":1,"sum_ns":1,"max_us":1,"hdr":"x"},"intervals":[null]}}}}`))
	f.Add([]byte(`{"schema":"m2msim.result/v2","metrics":{"interval_s":-1,"intervals":99999999}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := UnmarshalResult(b)
		if err != nil {
			return
		}
		if rb, err := Rebuild(r); err == nil && rb.Metrics == nil {
			t.Error("Rebuild succeeded without metrics")
		}
		if points, err := Timeline(r); err == nil && r.Metrics != nil && len(points) != r.Metrics.Intervals {
			t.Errorf("Timeline gave %d points for %d intervals", len(points), r.Metrics.Intervals)
		}
		_, _ = Merge(r, r)
		_ = Compare(r, r, Tolerance{})
	})
}
