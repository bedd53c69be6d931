package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gocv.io/x/gocv"

	"snowlight/audit"
	"snowlight/casebundle"
	"snowlight/detect"
	"snowlight/export"
	"snowlight/objstore"
	"snowlight/store"
	"snowlight/tracks"
	"snowlight/web"
)

// exporter writes case evidence bundles, one at a time, in the background: an export re-encodes clips
// and runs a face detector over every picture, which takes seconds to minutes.
type exporter struct {
	s    *Server
	key  ed25519.PrivateKey
	pub  web.SigningKeyView
	jobs chan exportJob
	// faces is the detector redaction runs: YuNet at score 0.5 without a second opinion, so that a
	// doubtful face is hidden rather than left; nil without models, when nothing can be exported.
	faces *detect.YuNet
}

type exportJob struct {
	rec   store.CaseExport
	trajs []tracks.Trajectory
	from  time.Time
	to    time.Time
}

// newExporter loads the signing key, creating it on first start.
func newExporter(ctx context.Context, s *Server) (*exporter, error) {
	path := s.cfg.Evidence.SigningKey
	key, err := casebundle.LoadKey(path)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			key, err = casebundle.GenerateKey(path)
		}
		if err == nil {
			s.log.Info("evidence signing key created: keep a copy somewhere safe", "file", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("evidence signing key: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	x := &exporter{s: s, key: key, jobs: make(chan exportJob, 16),
		pub: web.SigningKeyView{Algorithm: "Ed25519", PublicKey: casebundle.EncodePublicKey(pub), Fingerprint: casebundle.Fingerprint(pub)}}
	s.log.Info("evidence bundles are signed", "fingerprint", x.pub.Fingerprint)
	if s.cfg.Models != "" {
		cfg := detect.DefaultYuNetConfig()
		cfg.ScoreThreshold, cfg.VerifyBelow = 0.5, 0
		if x.faces, err = detect.NewYuNet(s.infer, s.cfg.Models, cfg); err != nil {
			return nil, fmt.Errorf("export face detector: %w", err)
		}
	}
	// An export a stopped process was writing will not finish: say so.
	if n, err := s.db.FailRunningExports(ctx, s.now(), "the server stopped while writing it: export again"); err != nil {
		return nil, err
	} else if n > 0 {
		s.log.Warn("exports interrupted by a stop marked failed", "exports", n)
	}
	return x, nil
}

// run writes queued exports until ctx ends.
func (x *exporter) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-x.jobs:
			x.do(ctx, j)
		}
	}
}

func (x *exporter) close() {
	if x.faces != nil {
		x.faces.Close()
	}
}

// do writes one bundle to a temporary file, stores it under its content key and records the outcome
// (in the exports table and the audit log).
func (x *exporter) do(ctx context.Context, j exportJob) {
	s := x.s
	rec := j.rec
	log := s.log.With("export", rec.ID, "case", rec.Case)
	err := func() error {
		f, err := os.CreateTemp(s.cfg.DataDir, "export-*.zip")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		res, err := export.Write(ctx, export.Options{Store: s.db, Objects: s.objects, Faces: x.findFaces, Key: x.key,
			Cameras: x.cameras(), TempDir: s.cfg.DataDir, Log: log},
			export.Request{Case: rec.Case, Reason: rec.Reason, CreatedBy: rec.CreatedBy, Subject: rec.Subject, From: j.from, To: j.to,
				Created: rec.Created, Trajectories: j.trajs}, f)
		if err != nil {
			return err
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		key, err := objstore.ContentKey("export", sum, "zip")
		if err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := s.objects.Put(ctx, key, f, size, objstore.PutOptions{SHA256: sum, ContentType: "application/zip"}); err != nil && !errors.Is(err, objstore.ErrExists) {
			return fmt.Errorf("store the bundle: %w", err)
		}
		manifest, err := res.Manifest.Digest()
		if err != nil {
			return err
		}
		rec.Status, rec.ObjectKey, rec.Size, rec.Files, rec.ManifestSHA256, rec.Fingerprint =
			store.ExportDone, key, size, len(res.Manifest.Files), manifest, x.pub.Fingerprint
		return nil
	}()
	rec.Finished = s.now()
	action, details := "case.export.done", map[string]string{"export": rec.ID}
	if err != nil {
		log.Error("export failed", "err", err)
		rec.Status, rec.Error, action = store.ExportFailed, err.Error(), "case.export.failed"
		details["error"] = err.Error()
	} else {
		details["manifest_sha256"], details["object"], details["files"] = rec.ManifestSHA256, rec.ObjectKey, fmt.Sprint(rec.Files)
		log.Info("export written", "files", rec.Files, "bytes", rec.Size)
	}
	// The outcome is recorded even when the server is stopping.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.db.FinishExport(bg, rec); err != nil {
		log.Error("export outcome not recorded", "err", err)
	}
	if _, err := s.audit.Append(bg, audit.Record{Actor: rec.CreatedBy, Action: action, Target: rec.Subject, Case: rec.Case,
		Reason: rec.Reason, Details: details}); err != nil {
		log.Error("export outcome not audited", "err", err)
	}
}

func (x *exporter) findFaces(img gocv.Mat) ([]image.Rectangle, error) {
	fs, err := x.faces.DetectFaces(img)
	out := make([]image.Rectangle, len(fs))
	for i, f := range fs {
		out[i] = f.Box.Rect()
	}
	return out, err
}

func (x *exporter) cameras() []export.Camera {
	out := make([]export.Camera, 0, len(x.s.cfg.Cameras))
	for _, c := range x.s.cfg.Cameras {
		out = append(out, export.Camera{ID: c.ID, Name: c.Name, Lat: c.Position.Lat, Lon: c.Position.Lon,
			HasPos: c.Position.Lat != 0 || c.Position.Lon != 0})
	}
	return out
}

// exportsAPI is the exporter as the web API sees it.
type exportsAPI struct{ x *exporter }

func (a exportsAPI) Start(ctx context.Context, r web.ExportRequest) (web.ExportView, error) {
	x := a.x
	s := x.s
	var trajs []tracks.Trajectory
	subject := "person/" + r.PersonID
	if r.PersonID != "" {
		ts, err := s.db.PersonTrajectory(ctx, r.PersonID, r.From, r.To)
		if err != nil {
			return web.ExportView{}, storeErr(err)
		}
		trajs = ts
	} else {
		subject = "sighting/" + r.Sighting
		t, err := s.db.Follow(ctx, r.Sighting, r.From, r.To)
		if err != nil {
			return web.ExportView{}, storeErr(err)
		}
		trajs = []tracks.Trajectory{t}
	}
	if r.Cameras != nil {
		for i := range trajs {
			trajs[i].Steps = slices.DeleteFunc(trajs[i].Steps, func(st tracks.Step) bool { return !slices.Contains(r.Cameras, st.Camera) })
		}
	}
	steps := 0
	for _, t := range trajs {
		steps += len(t.Steps)
	}
	if steps == 0 {
		return web.ExportView{}, fmt.Errorf("%s was not seen in that window: nothing to export: %w", subject, web.ErrNotFound)
	}
	if x.faces == nil {
		return web.ExportView{}, fmt.Errorf("exports hide bystanders' faces and need the face model (serve with models): %w", web.ErrUnavailable)
	}
	rec := store.CaseExport{ID: newExportID(), Case: r.Case, Reason: r.Reason, Subject: subject, CreatedBy: r.Actor, Created: s.now(),
		Status: store.ExportRunning}
	if err := s.db.AddExport(ctx, rec); err != nil {
		return web.ExportView{}, err
	}
	select {
	case x.jobs <- exportJob{rec: rec, trajs: trajs, from: r.From, to: r.To}:
	default:
		rec.Status, rec.Finished, rec.Error = store.ExportFailed, s.now(), "too many exports waiting"
		if err := s.db.FinishExport(ctx, rec); err != nil {
			return web.ExportView{}, err
		}
		return web.ExportView{}, fmt.Errorf("too many exports are waiting: try again in a few minutes: %w", web.ErrUnavailable)
	}
	return exportView(rec), nil
}

func newExportID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "x" + hex.EncodeToString(b)
}

func exportView(e store.CaseExport) web.ExportView {
	v := web.ExportView{ID: e.ID, Case: e.Case, Reason: e.Reason, Subject: e.Subject, CreatedBy: e.CreatedBy, Created: e.Created,
		Status: e.Status, Finished: e.Finished, Error: e.Error, Files: e.Files, Size: e.Size, ManifestSHA256: e.ManifestSHA256,
		Fingerprint: e.Fingerprint}
	if e.Status == store.ExportDone {
		v.Bundle = web.Media{Key: e.ObjectKey}
	}
	return v
}

func (a exportsAPI) Get(ctx context.Context, caseNumber, id string) (web.ExportView, error) {
	e, err := a.x.s.db.Export(ctx, id)
	if err != nil {
		return web.ExportView{}, storeErr(err)
	}
	if e.Case != caseNumber {
		return web.ExportView{}, fmt.Errorf("case %s has no export %s: %w", caseNumber, id, web.ErrNotFound)
	}
	return exportView(e), nil
}

func (a exportsAPI) List(ctx context.Context, caseNumber string) ([]web.ExportView, error) {
	es, err := a.x.s.db.Exports(ctx, caseNumber, 100)
	if err != nil {
		return nil, err
	}
	out := make([]web.ExportView, len(es))
	for i, e := range es {
		out[i] = exportView(e)
	}
	return out, nil
}

func (a exportsAPI) SigningKey() web.SigningKeyView { return a.x.pub }
