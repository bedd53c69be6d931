// Package gobin finds server binaries that scripts/setup.sh installs with `go install` (MinIO, NATS)
// for the tests that start them.
package gobin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Find looks for the executable name in $env (a path), then $GOBIN or $(go env GOPATH)/bin, where
// `go install` puts it, then ~/go/bin, then $PATH.
func Find(name, env string) (string, error) {
	var cands []string
	if p := os.Getenv(env); p != "" {
		cands = append(cands, p)
	}
	if gobin := goEnv("GOBIN"); gobin != "" {
		cands = append(cands, filepath.Join(gobin, name))
	}
	if gp := goEnv("GOPATH"); gp != "" {
		for dir := range strings.SplitSeq(gp, string(os.PathListSeparator)) {
			cands = append(cands, filepath.Join(dir, "bin", name))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, "go", "bin", name))
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no %s binary (looked in %v and $PATH); run scripts/setup.sh", name, cands)
}

func goEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
