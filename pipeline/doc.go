// Package pipeline is the edge of the perception pipeline and the runners that join it to the center:
// per camera, frames -> detect.Camera -> tracks.Tracker -> sighting events (the Edge); and RunLive and
// Replay, which feed the events of every camera to one center.Center in a single process.
//
// The edge and the center meet only through tracks.SightingEvent, a plain value that the in-process
// runners pass over a channel and a distributed deployment can carry over a message bus unchanged. The
// edge runs one goroutine per camera and announces a track as soon as its identity evidence passes the
// watch list's rule, not only when the person leaves the picture, so alerts can follow within a second
// of the first frame that showed the face. The center is serial: one stitcher sees the sightings of
// every camera in order.
//
// Two runners drive the same Edge and Center: Live over ingest workers (RTSP cameras) and Replay over
// recorded files, which decodes each camera at its detection rate, gives every frame the wall time
// "recording start + PTS", runs the cameras in parallel and hands their sightings to the center in
// wall-time order, so a replay decides what the live system would have decided.
package pipeline
