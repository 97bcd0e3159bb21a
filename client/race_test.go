//go:build race

package client

// raceEnabled is true when the tests run under the race detector, which
// makes each operation many times slower: the longest loops run shorter.
const raceEnabled = true
