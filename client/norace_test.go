//go:build !race

package client

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
