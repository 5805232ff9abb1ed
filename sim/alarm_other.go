//go:build !linux

package sim

import (
	"errors"
	"time"
)

// alarm is Linux's timerfd; elsewhere shards keep Go's timers.
type alarm struct{}

func newAlarm() (*alarm, error) { return nil, errors.New("kernel timers need Linux") }

func (*alarm) set(time.Duration, bool) {}
func (*alarm) wait() error             { return nil }
func (*alarm) close()                  {}
