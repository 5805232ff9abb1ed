package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Shard says which shard of a fleet run over several processes a result
// is, and how its process fared.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// LateByS is how late (in seconds) the shard started its schedule
	// after the common start time; 0 when on time or none was given.
	LateByS float64 `json:"late_by_s"`
	// CPUS is the CPU time (user and system, in seconds) the process used.
	CPUS float64 `json:"cpu_s"`
}

// ShardHealth is one shard's load in a merged result, so that one
// overloaded generator is visible.
type ShardHealth struct {
	Index          int     `json:"index"`
	Devices        int     `json:"devices"`
	ScheduleLagP99 float64 `json:"schedule_lag_p99_ms"`
	ScheduleLagMax float64 `json:"schedule_lag_max_ms"`
	CPUS           float64 `json:"cpu_s"`
	Errors         int64   `json:"errors"`
	LateByS        float64 `json:"late_by_s"`
	Status         Status  `json:"status"`
}

// ErrNotShards is wrapped by MergeShards when its parts are not shards of
// one run.
var ErrNotShards = errors.New("not shards of one run")

// checkShards verifies that parts are shards of one run when any of them
// is a shard: all are, of the same scenario, seed and count, with
// distinct indices. It returns a warning naming the shards missing.
func checkShards(parts []*Result) (string, error) {
	var sharded []int
	for i, r := range parts {
		if r.Shard != nil {
			sharded = append(sharded, i)
		}
	}
	if len(sharded) == 0 {
		return "", nil
	}
	first := parts[sharded[0]]
	seen := map[int]int{}
	for i, r := range parts {
		switch {
		case r.Shard == nil:
			return "", fmt.Errorf("result %d (%s) is no shard, result %d is shard %d/%d: %w", i+1, r.Scenario.Name, sharded[0]+1, first.Shard.Index, first.Shard.Count, ErrNotShards)
		case r.Scenario.Name != first.Scenario.Name:
			return "", fmt.Errorf("result %d is of scenario %q, result %d of %q: %w", i+1, r.Scenario.Name, sharded[0]+1, first.Scenario.Name, ErrNotShards)
		case r.Seed != first.Seed:
			return "", fmt.Errorf("result %d has seed %d, result %d seed %d: %w", i+1, r.Seed, sharded[0]+1, first.Seed, ErrNotShards)
		case r.Shard.Count != first.Shard.Count:
			return "", fmt.Errorf("result %d is a shard of %d, result %d of %d: %w", i+1, r.Shard.Count, sharded[0]+1, first.Shard.Count, ErrNotShards)
		case r.Shard.Index < 0 || r.Shard.Index >= r.Shard.Count:
			return "", fmt.Errorf("result %d is shard %d of %d: %w", i+1, r.Shard.Index, r.Shard.Count, ErrNotShards)
		}
		if j, dup := seen[r.Shard.Index]; dup {
			return "", fmt.Errorf("results %d and %d are both shard %d/%d: %w", j+1, i+1, r.Shard.Index, r.Shard.Count, ErrNotShards)
		}
		seen[r.Shard.Index] = i
	}
	var missing []string
	for k := range first.Shard.Count {
		if _, ok := seen[k]; !ok {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	return fmt.Sprintf("shard(s) %s of %d missing: the merged result covers only %d of %d shards",
		strings.Join(missing, ", "), first.Shard.Count, len(seen), first.Shard.Count), nil
}

// shardHealth lists the shards' health, by index.
func shardHealth(parts []*Result) []ShardHealth {
	var out []ShardHealth
	for _, r := range parts {
		if r.Shard == nil {
			continue
		}
		lag := r.LatencyMS.ScheduleLag
		out = append(out, ShardHealth{Index: r.Shard.Index, Devices: r.Devices.Planned,
			ScheduleLagP99: lag.P99.V, ScheduleLagMax: lag.Max, CPUS: r.Shard.CPUS,
			Errors: r.Errors.Total(), LateByS: r.Shard.LateByS, Status: r.Status})
	}
	slices.SortFunc(out, func(a, b ShardHealth) int { return a.Index - b.Index })
	return out
}
