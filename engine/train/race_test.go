//go:build race

package train_test

// raceEnabled: the test binary runs under the race detector (go test -race).
const raceEnabled = true
