package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"snowlight/tracks"
	"snowlight/tracks/mot"
	"snowlight/tracks/motrun"
)

func runMot(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || helpFlag(args[0]) {
		fmt.Fprintln(e.stderr, "usage: snowlight mot eval|track [flags]")
		return errUsage
	}
	switch args[0] {
	case "eval":
		return runMotEval(e, args[1:])
	case "track":
		return runMotTrack(ctx, e, args[1:])
	}
	fmt.Fprintf(e.stderr, "snowlight mot: unknown subcommand %q (want eval or track)\n", args[0])
	return errUsage
}

func readMOT(path string) ([]mot.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := mot.Read(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

func runMotEval(e *env, args []string) error {
	fs := newFlagSet(e, "mot eval", "--gt GT.txt --res RES.txt [--json] [--iou 0.5] [--mot17]")
	gtPath := fs.String("gt", "", "ground truth, MOTChallenge text format")
	resPath := fs.String("res", "", "tracker output, MOTChallenge text format")
	asJSON := fs.Bool("json", false, "print the metrics as one JSON object")
	iou := fs.Float64("iou", 0.5, "least IoU of a match")
	mot17 := fs.Bool("mot17", false, "apply MOT16/17 rules: ignore distractor classes and non-pedestrians")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *gtPath == "" || *resPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	gt, err := readMOT(*gtPath)
	if err != nil {
		return err
	}
	res, err := readMOT(*resPath)
	if err != nil {
		return err
	}
	if *mot17 {
		gt, res = mot.PreprocessMOT17(gt, res)
	}
	m, err := mot.Evaluate(gt, res, mot.Options{MinIoU: *iou})
	if err != nil {
		return fmt.Errorf("evaluate %s against %s: %w", *resPath, *gtPath, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		return enc.Encode(m)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MOTA\tMOTP\tIDF1\tIDP\tIDR\tRcll\tPrcn\tHOTA\tDetA\tAssA\tGT\tMT\tPT\tML\tFP\tFN\tIDs\tFM")
	fmt.Fprintf(w, "%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
		m.MOTA, m.MOTP, m.IDF1, m.IDP, m.IDR, m.Recall, m.Precision, m.HOTA.HOTA, m.DetA, m.AssA,
		m.GT, m.MT, m.PT, m.ML, m.FP, m.FN, m.IDSW, m.Frag)
	return w.Flush()
}

func runMotTrack(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "mot track", "--det DET.txt --out RES.txt [--fps F] [--tracker bytetrack|sort] [--preset public|default|bytetrack]")
	detPath := fs.String("det", "", "detections, MOTChallenge text format (frame,-1,x,y,w,h,score,...)")
	outPath := fs.String("out", "", "where to write the tracks, MOTChallenge results format")
	fps := fs.Float64("fps", 30, "frame rate of the sequence; frame f is at (f-1)/fps seconds")
	which := fs.String("tracker", "bytetrack", "bytetrack (ours) or sort (the reference baseline)")
	preset := fs.String("preset", "public", "settings: public (tuned for the MOTChallenge public Faster R-CNN detections), default (tracks.DefaultConfig), bytetrack (ByteTrack's published settings, no recovery)")
	minScore := fs.Float64("min-score", 0, "drop detections scoring below this")
	boxes := fs.String("boxes", "", `report each track's matched detection box or its filtered box: detection|filtered ("" = bytetrack detection, sort filtered as in the reference)`)
	high := fs.Float64("high", -1, "override the high-score threshold (with --tracker bytetrack)")
	newScore := fs.Float64("new", -1, "override the least score that starts a track")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *detPath == "" || *outPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	switch *boxes {
	case "":
		*boxes = "detection"
		if *which == "sort" {
			*boxes = "filtered"
		}
	case "detection", "filtered":
	default:
		return fmt.Errorf("--boxes %q: want detection or filtered", *boxes)
	}
	dets, err := readMOT(*detPath)
	if err != nil {
		return err
	}
	var u motrun.Updater
	switch *which {
	case "sort":
		u = tracks.NewSORT(tracks.DefaultSORTConfig())
	case "bytetrack":
		var cfg tracks.Config
		switch *preset {
		case "public":
			cfg = motrun.PublicDetectionsConfig()
		case "default":
			cfg = tracks.DefaultConfig()
		case "bytetrack":
			cfg = tracks.DefaultConfig()
			cfg.MatchIoU, cfg.RecoverBuffer = 0.2, 0
		default:
			return fmt.Errorf("--preset %q: want public, default or bytetrack", *preset)
		}
		if *high >= 0 {
			cfg.HighScore = *high
		}
		if *newScore >= 0 {
			cfg.NewTrackScore = *newScore
		}
		cfg.Logger = e.log
		tr, err := tracks.NewTracker(cfg)
		if err != nil {
			return err
		}
		u = tr
	default:
		return fmt.Errorf("--tracker %q: want bytetrack or sort", *which)
	}
	res, err := motrun.Run(ctx, u, dets, motrun.Options{FPS: *fps, MinScore: *minScore, DetectionBoxes: *boxes == "detection"})
	if err != nil {
		return fmt.Errorf("track %s: %w", *detPath, err)
	}
	f, err := os.Create(*outPath)
	if err != nil {
		return err
	}
	if err := mot.Write(f, res); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", *outPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", *outPath, err)
	}
	e.log.Info("tracked", "detections", len(dets), "boxes", len(res), "out", *outPath)
	return nil
}
