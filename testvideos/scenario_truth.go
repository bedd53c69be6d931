package testvideos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"snowlight/geo"
	"time"
)

// TruthFile is the name of the ground truth a render writes beside the videos.
const TruthFile = "truth.json"

// Truth is a rendered scenario's ground truth: the cameras and their topology, the people (who is enrolled
// and with which photos), and per camera and frame who is where.
type Truth struct {
	Scenario string        `json:"scenario"`
	SpecHash string        `json:"spec_hash"`
	Start    time.Time     `json:"start"` // wall-clock time of every camera's first frame
	Cameras  []CameraTruth `json:"cameras"`
	Persons  []PersonTruth `json:"persons"`
	Passes   []PassTruth   `json:"passes"`
	Zones    []ZoneSpec    `json:"zones,omitempty"`
	Patrols  []PatrolSpec  `json:"patrols,omitempty"`
}

// CameraTruth is one camera's video and what is in each of its frames.
type CameraTruth struct {
	ID         string          `json:"id"`
	File       string          `json:"file"` // relative to the directory truth.json is in
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	FPS        int             `json:"fps"`
	Position   *geo.LatLon     `json:"position,omitempty"`
	Neighbours []NeighbourSpec `json:"neighbours,omitempty"`
	// BackgroundPeople is true when the background is real video with passers-by of its own, who are not
	// listed in the frames: detections there are not false positives.
	BackgroundPeople bool         `json:"background_people"`
	Frames           []FrameTruth `json:"frames"`
}

// FrameTruth is one frame: number (from 1, decode order), time since the start, and the people in it.
type FrameTruth struct {
	Frame   int           `json:"frame"`
	T       float64       `json:"t"`
	Objects []ObjectTruth `json:"objects"`
}

// ObjectTruth is one person in one frame. Boxes are [x, y, w, h] in pixels, clipped to the frame; the
// person box holds the pixels the figure covers at least half. Visible is the share of those pixels that
// are inside the frame and not hidden by someone nearer the camera; FaceVisible the same for the figure's
// pixels within the face box.
type ObjectTruth struct {
	Person      string  `json:"person"`
	ID          int     `json:"id"` // the person's number, the same on every camera (MOTChallenge id)
	Walk        int     `json:"walk"`
	Box         [4]int  `json:"box"`
	Face        *[4]int `json:"face,omitempty"` // absent when no part of the face is in the frame
	Visible     float64 `json:"visible"`
	FaceVisible float64 `json:"face_visible"`
}

// PersonTruth is one person as the tests need them.
type PersonTruth struct {
	ID       string   `json:"id"`
	Number   int      `json:"number"`
	Name     string   `json:"name,omitempty"`
	Category string   `json:"category,omitempty"`
	Enrolled bool     `json:"enrolled"`
	Enrol    []string `json:"enrol,omitempty"` // absolute paths of the photos to enrol
	Photos   []string `json:"photos"`          // absolute paths of the photos rendered
	SafeZone string   `json:"safe_zone,omitempty"`
}

// PassTruth is one walk as it appears on video: the frames in which the person is visible at all.
// Walk indexes the spec's walks. A walk that never enters its camera's view has no pass.
type PassTruth struct {
	Walk       int     `json:"walk"`
	Person     string  `json:"person"`
	Camera     string  `json:"camera"`
	FirstFrame int     `json:"first_frame"`
	LastFrame  int     `json:"last_frame"`
	Enter      float64 `json:"enter"` // seconds after Start
	Exit       float64 `json:"exit"`
}

// ReadTruth reads dir/truth.json.
func ReadTruth(dir string) (*Truth, error) {
	data, err := os.ReadFile(filepath.Join(dir, TruthFile))
	if err != nil {
		return nil, fmt.Errorf("read scenario truth: %w", err)
	}
	var t Truth
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("read scenario truth %s: %w", filepath.Join(dir, TruthFile), err)
	}
	return &t, nil
}

// Camera returns the camera with the given id, or nil.
func (t *Truth) Camera(id string) *CameraTruth {
	for i := range t.Cameras {
		if t.Cameras[i].ID == id {
			return &t.Cameras[i]
		}
	}
	return nil
}

// Person returns the person with the given id, or nil.
func (t *Truth) Person(id string) *PersonTruth {
	for i := range t.Persons {
		if t.Persons[i].ID == id {
			return &t.Persons[i]
		}
	}
	return nil
}

// WallTime is the wall-clock time of a frame of a camera.
func (t *Truth) WallTime(f FrameTruth) time.Time {
	return t.Start.Add(time.Duration(f.T * float64(time.Second)))
}

// writeMOT writes a camera's truth in the MOTChallenge ground-truth format
// (frame,id,x,y,w,h,consider,class,visibility) for the tracking evaluator.
func (c *CameraTruth) writeMOT(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write MOT ground truth: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, fr := range c.Frames {
		for _, o := range fr.Objects {
			fmt.Fprintf(w, "%d,%d,%d,%d,%d,%d,1,1,%.3f\n", fr.Frame, o.ID, o.Box[0], o.Box[1], o.Box[2], o.Box[3], o.Visible)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
