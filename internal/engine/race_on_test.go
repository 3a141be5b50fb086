//go:build race

package engine

// raceEnabled reports a -race build, in which tests that drive many turns
// drive fewer.
const raceEnabled = true
