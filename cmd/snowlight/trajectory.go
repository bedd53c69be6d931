package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"snowlight/store"
	"snowlight/tracks"
)

func runTrajectory(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "trajectory", "--db FILE (--person ID | --sighting ID | --camera ID) [--from T --to T] [--limit N] [--json]")
	dbPath := fs.String("db", "", "the snowlight database (SQLite)")
	person := fs.String("person", "", "watch-list person: the trajectories they were identified in")
	sighting := fs.String("sighting", "", "sighting id: follow it backward and forward")
	camera := fs.String("camera", "", "camera id: everything it saw in the window")
	fromS := fs.String("from", "", "window start, RFC 3339 (e.g. 2024-05-01T08:00:00Z); empty: open")
	toS := fs.String("to", "", "window end, RFC 3339; empty: open")
	limit := fs.Int("limit", 1000, "at most this many steps with --camera (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{*person, *sighting, *camera} {
		if s != "" {
			n++
		}
	}
	if *dbPath == "" || n != 1 || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	from, err := parseTime("--from", *fromS)
	if err != nil {
		return err
	}
	to, err := parseTime("--to", *toS)
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return fmt.Errorf("--to %s is before --from %s", *toS, *fromS)
	}
	// Open would create an empty database; a query wants an existing one.
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	db, err := store.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	var trajs []tracks.Trajectory
	switch {
	case *person != "":
		trajs, err = db.PersonTrajectory(ctx, *person, from, to)
	case *sighting != "":
		var t tracks.Trajectory
		t, err = db.Follow(ctx, *sighting, from, to)
		trajs = []tracks.Trajectory{t}
	default:
		var steps []tracks.Step
		steps, err = db.AtCamera(ctx, *camera, from, to, *limit)
		trajs = []tracks.Trajectory{{Steps: steps}}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if *camera != "" {
			return enc.Encode(trajs[0].Steps)
		}
		if *sighting != "" {
			return enc.Encode(trajs[0])
		}
		return enc.Encode(trajs)
	}
	return printTrajectories(e.stdout, trajs, *camera != "")
}

func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want RFC 3339, e.g. 2024-05-01T08:00:00Z", flag, s)
	}
	return t, nil
}

func printTrajectories(w io.Writer, trajs []tracks.Trajectory, byCamera bool) error {
	if len(trajs) == 0 || len(trajs) == 1 && len(trajs[0].Steps) == 0 {
		_, err := fmt.Fprintln(w, "nothing found")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, t := range trajs {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		if !byCamera {
			who := t.PersonID
			if who == "" {
				who = "unidentified"
			}
			fmt.Fprintf(tw, "trajectory %s (%s), %d sightings\n", t.ID, who, len(t.Steps))
		}
		fmt.Fprintln(tw, "ENTER\tEXIT\tCAMERA\tPOSITION\tSIGHTING\tPERSON\tLINK\tTRANSIT\tBODY\tFACE")
		for _, s := range t.Steps {
			pos, link, transit := "-", "-", "-"
			if s.HasPos {
				pos = fmt.Sprintf("%.5f,%.5f", s.Lat, s.Lon)
			}
			if s.Link != nil {
				link = fmt.Sprintf("%.2f", s.Link.Confidence)
				transit = fmt.Sprintf("%.0fs", s.Link.Evidence.TransitSeconds)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Enter.Format(time.RFC3339), s.Exit.Format("15:04:05"),
				s.Camera, pos, s.Sighting, dash(s.PersonID), link, transit, dash(s.BodyRef), dash(s.FaceRef))
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
