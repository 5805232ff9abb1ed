//go:build !unix

package mqtt

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
