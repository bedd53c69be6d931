package server

import (
	"context"
	"fmt"
	"time"

	"snowlight/camevent"
	"snowlight/center"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/detect/tamper"
	"snowlight/ingest"
	"snowlight/media"
	"snowlight/pipeline"
	"snowlight/tracks/stitch"
)

// camera is one ingested camera and its edge of the pipeline.
type camera struct {
	cfg    deploy.Camera
	worker *ingest.Worker
	det    *detect.Pipeline
	dcam   *detect.Camera
	edge   *pipeline.Edge
	tamper *tamper.Detector
	// lastTamper is when the tamper detector last looked; it runs a few times a second, not per frame.
	lastTamper time.Time
}

// cameraSet is every camera this process ingests.
type cameraSet struct {
	list []*camera
	byID map[string]*camera
}

func (cs *cameraSet) ring(id string) (*media.Ring, bool) {
	c, ok := cs.byID[id]
	if !ok {
		return nil, false
	}
	return c.worker.Ring(), true
}

func (cs *cameraSet) close() {
	for _, c := range cs.list {
		if c.dcam != nil {
			c.dcam.Close()
		}
		if c.det != nil {
			c.det.Close()
		}
		if c.tamper != nil {
			c.tamper.Close()
		}
	}
}

// tamperEvery is how often a camera's picture is checked for covering, blur or turning.
const tamperEvery = 500 * time.Millisecond

// ringFor is how much compressed video each camera keeps: a clip's pre- and post-roll, with room for
// the GOP a clip must start at and for a late alert.
func ringFor(d *deploy.Deployment) time.Duration { return d.PreRoll + d.PostRoll + 20*time.Second }

// buildPipeline makes each camera's ingest worker, detectors, tracker and tamper check, and the center
// they report to.
func (s *Server) buildPipeline(ctx context.Context) error {
	var err error
	if s.pmetrics, err = pipeline.NewMetrics(s.reg); err != nil {
		return err
	}
	imetrics, err := ingest.NewMetrics(s.reg)
	if err != nil {
		return err
	}
	dmetrics, err := detect.NewMetrics(s.reg)
	if err != nil {
		return err
	}
	topo, err := s.dep.Topology()
	if err != nil {
		return err
	}
	st, err := stitch.New(stitch.DefaultConfig(), topo)
	if err != nil {
		return fmt.Errorf("stitcher: %w", err)
	}
	if err := s.db.SetCameras(ctx, s.dep.CameraPositions()); err != nil {
		return fmt.Errorf("record camera positions: %w", err)
	}
	cmetrics, err := center.NewMetrics(s.reg)
	if err != nil {
		return err
	}
	s.center, err = center.New(center.Config{Store: s.db, Objects: s.objects, Stitcher: st,
		OnEvent: s.onCenterEvent, Metrics: cmetrics, Log: s.log})
	if err != nil {
		return err
	}
	if s.live, err = newLive(s); err != nil {
		return err
	}
	s.cameras = &cameraSet{byID: map[string]*camera{}}
	// One OpenCV thread per network: the cameras themselves are the parallelism.
	detect.SetOpenCVThreads(1)
	for _, cc := range s.dep.Cameras {
		if cc.URL() == "" {
			s.log.Warn("camera has only a recording: it is for snowlight replay, not served", "camera", cc.ID)
			continue
		}
		c := &camera{cfg: cc}
		s.cameras.list = append(s.cameras.list, c)
		s.cameras.byID[cc.ID] = c
		c.worker, err = ingest.NewWorker(ingest.Config{
			Camera: cc.ID, URL: cc.URL(), Transport: ingest.Transport(cc.Transport),
			Decode: ingest.DecodeSampled, SampleFPS: cc.DetectFPS, RingDuration: ringFor(s.dep),
			OfflineAfter: s.dep.OfflineAfter, Metrics: imetrics, Log: s.log,
			OnEvent: s.cameraEvent,
		})
		if err != nil {
			return err
		}
		dc := detect.DefaultConfig(s.cfg.Models)
		dc.Log, dc.Metrics, dc.Engine = s.log, dmetrics, s.infer
		if c.det, err = detect.NewPipeline(dc); err != nil {
			return fmt.Errorf("camera %s: %w", cc.ID, err)
		}
		gate := pipeline.GateConfig()
		c.dcam = c.det.NewCamera(cc.ID, &gate)
		c.edge, err = pipeline.NewEdge(cc.ID, c.dcam, pipeline.EdgeConfig{
			Tracker: pipeline.TrackerConfig(), WatchList: s.watch.matcher,
			Metrics: s.pmetrics, Log: s.log,
		})
		if err != nil {
			return err
		}
		if c.tamper, err = tamper.New(tamper.DefaultConfig()); err != nil {
			return err
		}
	}
	return nil
}

// runCameras runs every camera and the center until ctx ends.
func (s *Server) runCameras(ctx context.Context) error {
	if len(s.cameras.list) == 0 {
		<-ctx.Done()
		return nil
	}
	var cams []pipeline.LiveCamera
	for _, c := range s.cameras.list {
		cams = append(cams, pipeline.LiveCamera{Worker: c.worker, Edge: c.edge, Inspect: s.inspector(c)})
	}
	return pipeline.RunLive(ctx, pipeline.LiveOptions{Cameras: cams, Center: s.center, Metrics: s.pmetrics, Log: s.log})
}

// inspector checks a camera's picture for tampering a few times a second.
func (s *Server) inspector(c *camera) func(ingest.Frame) {
	return func(f ingest.Frame) {
		if f.Time.Sub(c.lastTamper) < tamperEvery {
			return
		}
		c.lastTamper = f.Time
		r, err := c.tamper.Update(f.Mat, f.Time)
		if err != nil {
			s.log.Warn("tamper check failed", "camera", c.cfg.ID, "err", err)
			return
		}
		if ev, changed := r.Event(c.cfg.ID); changed {
			s.cameraWork(ev)
		}
	}
}

// cameraEvent receives ingest worker events; it must not block the worker.
func (s *Server) cameraEvent(ev ingest.Event) { s.cameraWork(ev.Report()) }

// cameraWork queues a camera's state change for the alert rules.
func (s *Server) cameraWork(ev camevent.Event) {
	select {
	case s.cameraNotes <- ev:
	default:
		s.log.Error("camera state queue full: a state change was not checked", "camera", ev.Camera, "kind", ev.Kind)
	}
}

// runCameraNotes hands camera state changes to the rules in order. Run stops it after the cameras, and
// it then applies what is still queued.
func (s *Server) runCameraNotes(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case n := <-s.cameraNotes:
					s.cameraNote(context.WithoutCancel(ctx), n)
				default:
					return nil
				}
			}
		case n := <-s.cameraNotes:
			s.cameraNote(ctx, n)
		}
	}
}

func (s *Server) cameraNote(ctx context.Context, ev camevent.Event) {
	if err := s.rules.CameraEvent(ctx, ev); err != nil {
		s.log.Error("camera alert rule failed", "camera", ev.Camera, "kind", ev.Kind, "err", err)
	}
}

// CameraStatus reports every ingested camera's state, for status lines.
func (s *Server) CameraStatus() []ingest.Status {
	out := make([]ingest.Status, 0, len(s.cameras.list))
	for _, c := range s.cameras.list {
		out = append(out, c.worker.Status())
	}
	return out
}
