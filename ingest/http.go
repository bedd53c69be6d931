package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// StatusLine is a one-line summary of a camera for logs and terminals.
func StatusLine(s Status) string {
	age := "never"
	if !s.LastFrame.IsZero() {
		age = time.Since(s.LastFrame).Round(100 * time.Millisecond).String()
	}
	line := fmt.Sprintf("%-12s %-12s %s %dx%d %5.1f fps gop %-3d frames %d decoded %d dropped %d lost %d reconnects %d last %s clock %s",
		s.Camera, s.State, s.Codec, s.Width, s.Height, s.FPS, s.GOP, s.FramesReceived, s.FramesDecoded,
		s.DroppedQueue+s.DroppedConsumer, s.PacketsLost, s.Reconnects, age, s.ClockSource)
	if s.State != StateOnline && s.LastError != "" {
		line += " error: " + s.LastError
	}
	return line
}

// HealthHandler serves /healthz: 200 with every camera's status as JSON while the process runs; "status"
// is "ok" when every camera is online and "degraded" otherwise (a dead camera is an alert, not a reason
// to restart the process).
func HealthHandler(workers func() []*Worker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type camera struct {
			Camera    string  `json:"camera"`
			URL       string  `json:"url"`
			State     State   `json:"state"`
			Since     string  `json:"since"`
			FPS       float64 `json:"fps"`
			LastFrame string  `json:"last_frame,omitempty"`
			LastError string  `json:"last_error,omitempty"`
		}
		out := struct {
			Status  string   `json:"status"`
			Cameras []camera `json:"cameras"`
		}{Status: "ok", Cameras: []camera{}}
		for _, wk := range workers() {
			s := wk.Status()
			c := camera{Camera: s.Camera, URL: s.URL, State: s.State, Since: s.Since.UTC().Format(time.RFC3339),
				FPS: s.FPS, LastError: s.LastError}
			if !s.LastFrame.IsZero() {
				c.LastFrame = s.LastFrame.UTC().Format(time.RFC3339Nano)
			}
			if s.State != StateOnline {
				out.Status = "degraded"
			}
			out.Cameras = append(out.Cameras, c)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}
