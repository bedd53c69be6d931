//go:build race

package pipeline_test

// raceDetector is set when the tests run under -race; the six-camera replay then leaves its place to
// the plain run in `make test` (the race detector adds nothing there that the smaller replay and the
// live test do not cover, and doubles its time).
const raceDetector = true
