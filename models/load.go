package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvDir is the environment variable that names the models directory when no flag does.
const EnvDir = "SNOWLIGHT_MODELS"

// ResolveDir picks the models directory: the flag's value if set, else $SNOWLIGHT_MODELS. An empty result
// means "no models": the caller falls back to classical detectors.
func ResolveDir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(EnvDir)
}

// ErrNotFound is wrapped by Load when the model file does not exist.
var ErrNotFound = errors.New("model file not found")

// ErrMismatch is wrapped by Load and Verify when the bytes are not the ones of the manifest.
var ErrMismatch = errors.New("model file does not match the manifest")

// Load reads the model's file from dir, verifies its size and sha256 and returns the verified bytes: these
// are what must be handed to OpenCV, so that nothing can swap the file between check and use.
func Load(dir string, name Name) ([]byte, Model, error) {
	m, ok := Lookup(name)
	if !ok {
		return nil, Model{}, fmt.Errorf("load model %q: not in the manifest", name)
	}
	data, err := ReadVerified(filepath.Join(dir, m.File), m)
	return data, m, err
}

// ReadVerified reads path and checks it against m. It never reads more than one byte past the expected
// size, so a wrong path pointing at something huge costs nothing.
func ReadVerified(path string, m Model) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load model %s: %w: %s (expected %d bytes, sha256 %s); run `make models` "+
			"or point --models / %s at a directory that holds it", m.Name, ErrNotFound, path, m.Size, m.SHA256, EnvDir)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", m.Name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, m.Size+1))
	if err != nil {
		return nil, fmt.Errorf("load model %s: read %s: %w", m.Name, path, err)
	}
	if err := Verify(data, m); err != nil {
		return nil, fmt.Errorf("load model %s from %s: %w", m.Name, path, err)
	}
	return data, nil
}

// Verify checks data against the manifest entry: size first (a truncated download says so), then sha256.
func Verify(data []byte, m Model) error {
	if int64(len(data)) != m.Size {
		what := "truncated"
		if int64(len(data)) > m.Size {
			what = "too long"
		}
		return fmt.Errorf("%w: %s is %s: found %d bytes, expected %d bytes with sha256 %s",
			ErrMismatch, m.File, what, len(data), m.Size, m.SHA256)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, expected %s (%d bytes): a different or corrupted file",
			ErrMismatch, m.File, got, m.SHA256, m.Size)
	}
	return nil
}
