//go:build !linux

package main

import (
	"errors"
	"time"
)

// raiseFileLimit is supported on Linux only; elsewhere the limit is unknown.
func raiseFileLimit() (uint64, error) {
	return 0, errors.New("raising the open-file limit is supported on Linux only")
}

// cpuTime is supported on Linux only.
func cpuTime() (time.Duration, bool) { return 0, false }

// residentBytes is supported on Linux only.
func residentBytes() (int64, bool) { return 0, false }
