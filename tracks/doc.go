// Package tracks follows people through one camera and through the camera network.
//
// A Tracker (one per camera) turns each frame's detections into tracks: a ByteTrack-style tracker
// with a constant-velocity Kalman filter whose predictions step by wall time, so a camera whose
// detector runs on some frames only is tracked as well as one that runs on all. Face matches over a
// track's frames are combined into identity evidence, and when a confirmed track ends the tracker
// emits a Sighting: one person's pass through one camera, the unit that crosses from the edge to the
// center, where the stitcher (package tracks/stitch) links sightings into trajectories.
//
// SORT is the classic baseline the tracker is measured against (tracks/motrun scores both on
// MOTChallenge data with the metrics of tracks/mot).
package tracks
