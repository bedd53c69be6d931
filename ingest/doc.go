// Package ingest turns RTSP cameras into two streams the rest of snowlight consumes: compressed access
// units kept in a per-camera media.Ring (for clips and live view, never decoded or re-encoded) and decoded BGR
// Frames stamped with wall-clock time (for detection).
//
// One Worker runs per camera. It connects with gortsplib, depacketizes RTP into access units, stamps them
// with media and wall time (RTCP sender reports when the camera sends them, arrival time otherwise;
// monotonic across reconnects), keeps the ring, decodes what the configured mode needs, reconnects with
// capped exponential backoff and jitter, treats "connected but silent" as a failure, reports a camera that
// stays unreachable as offline, and exports Prometheus metrics. Camera URLs carry credentials: everything
// this package logs or returns passes through Redact.
package ingest
