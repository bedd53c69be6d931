// Package deps holds the test of the repository's import rules: docs/ARCHITECTURE.md lists, in a small
// language in the style of the standard library's go/build/deps_test.go, which package may import which,
// and which packages may link OpenCV and libav; the test checks every package's imports against it.
package deps
