package main

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocv.io/x/gocv"

	"snowlight/auth"
	"snowlight/detect"
	"snowlight/web/browsertest"
)

// checkDemoExport checks the bundle the investigator exported in the browser as its recipient would:
// `snowlight case verify` passes it against the server's fingerprint and fails it with one byte of any
// file changed; and in its alert snapshots a face detector (YuNet at 0.5, no second opinion: eager)
// finds the followed person's face but no longer the bystander's it finds in the original.
func checkDemoExport(t *testing.T, d *demoRun, models, bundle string) {
	ctx := t.Context()
	var key struct{ Fingerprint string }
	require.NoError(t, apiGet(ctx, d.url+"/api/v1/signing-key", d.admin, &key))
	browsertest.CheckBundle(t, bundle, func(p string) error {
		out, errs, code := cli(t, "case", "verify", "--fingerprint", key.Fingerprint, p)
		if code != 0 {
			return fmt.Errorf("case verify: exit %d: %s%s", code, out, errs)
		}
		return nil
	})

	cfg := detect.DefaultYuNetConfig()
	cfg.ScoreThreshold, cfg.VerifyBelow = 0.5, 0
	yunet, err := detect.NewYuNet(nil, models, cfg)
	require.NoError(t, err)
	defer yunet.Close()
	faces := func(jpg []byte) []image.Rectangle {
		img, err := gocv.IMDecode(jpg, gocv.IMReadColor)
		require.NoError(t, err)
		defer img.Close()
		fs, err := yunet.DetectFaces(img)
		require.NoError(t, err)
		var out []image.Rectangle
		for _, f := range fs {
			out = append(out, f.Box.Rect())
		}
		return out
	}

	zr, err := zip.OpenReader(bundle)
	require.NoError(t, err)
	defer zr.Close()
	read := func(name string) []byte {
		f, err := zr.Open(name)
		require.NoError(t, err, name)
		defer f.Close()
		b, err := io.ReadAll(f)
		require.NoError(t, err)
		return b
	}
	var traj struct {
		Alerts []struct{ ID, Snapshot string }
	}
	require.NoError(t, json.Unmarshal(read("trajectory.json"), &traj))
	bystanders := 0
	for _, a := range traj.Alerts {
		if a.Snapshot == "" {
			continue
		}
		var detail struct{ Snapshot struct{ URL string } }
		require.NoError(t, apiGet(ctx, d.url+"/api/v1/alerts/"+a.ID, d.admin, &detail))
		original := faces(fetch(t, ctx, d.url+detail.Snapshot.URL))
		exported := faces(read(a.Snapshot))
		// Every face left in the export is one of the original's; the rest were hidden.
		for _, e := range exported {
			assert.True(t, matchesAny(e, original), "%s: a face at %v that the original does not have", a.Snapshot, e)
		}
		hidden := 0
		for _, o := range original {
			if !matchesAny(o, exported) {
				hidden++
			}
		}
		t.Logf("%s: %d faces in the original snapshot, %d in the exported one (%d hidden)", a.Snapshot, len(original), len(exported), hidden)
		assert.NotEmpty(t, exported, "%s: the followed person's face is kept", a.Snapshot)
		bystanders += hidden
	}
	assert.Positive(t, bystanders, "no exported snapshot had a bystander to hide: the scene puts lin behind kit at the market")
}

func matchesAny(r image.Rectangle, rs []image.Rectangle) bool {
	for _, o := range rs {
		in := r.Intersect(o)
		if !in.Empty() && 2*in.Dx()*in.Dy() > min(r.Dx()*r.Dy(), o.Dx()*o.Dy()) {
			return true
		}
	}
	return false
}

func fetch(t *testing.T, ctx context.Context, url string) []byte {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// addPatrol makes the account the demo's unit reports through (a unit's account is named after it).
func addPatrol(t *testing.T, d *demoRun, unit string) browsertest.Account {
	pw, err := auth.RandomPassword()
	require.NoError(t, err)
	body := fmt.Sprintf(`{"name":%q,"role":"patrol","password":%q}`, unit, pw)
	req, err := http.NewRequestWithContext(t.Context(), "POST", d.url+"/api/v1/users", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "create the patrol account: %s", b)
	return browsertest.Account{User: unit, Password: pw}
}
