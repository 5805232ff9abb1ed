package report

import (
	"bytes"
	"encoding/json"
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Judged is a figure that may lie beyond every finished flow: a percentile
// whose rank falls among the lost, unacknowledged or unanswered flows,
// which are slower than any that finished. It is written to JSON as a
// number, or as null when Beyond.
type Judged struct {
	V      float64 // the value, when not Beyond
	Beyond bool
}

// reached is the finished value v.
func reached(v float64) Judged { return Judged{V: v} }

// beyond is a percentile no finished flow reaches.
var beyond = Judged{Beyond: true}

// MarshalJSON writes j.V as a JSON number, or null when j is Beyond.
func (j Judged) MarshalJSON() ([]byte, error) {
	if j.Beyond {
		return []byte("null"), nil
	}
	return json.Marshal(j.V)
}

// UnmarshalJSON reads a number, or null as Beyond.
func (j *Judged) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*j = beyond
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("judged figure: %w", err)
	}
	*j = Judged{V: v}
	return nil
}

// judgedRank is the nearest rank (1-based, ascending) of the percentile
// perMille/10 among total flows: ceil(perMille/1000 * total), in integers
// so that p99.9 of 1000 flows is rank 999, not 1000 by float error.
func judgedRank(perMille, total int64) int64 {
	return (perMille*total + 999) / 1000
}

// judgedPercentile is the percentile perMille/10 (990 for p99) of the
// finished flows in h, in µs and capped at maxUS, together with missing
// flows that rank above all of them; Beyond when its rank falls among the
// missing. Zero without any flow.
func judgedPercentile(h *hdr.PackedHistogram, missing, perMille, maxUS int64) Judged {
	n := h.TotalCount()
	if n+missing == 0 {
		return Judged{}
	}
	k := judgedRank(perMille, n+missing)
	if k > n {
		return beyond
	}
	// The histogram rounds percentile/100*n to the nearest rank, so the
	// percentile 100*k/n lands on rank k exactly.
	us := min(h.ValueAtPercentile(100*float64(k)/float64(n)), maxUS)
	return reached(float64(us) / 1000)
}
