package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"snowlight/detect"
	"snowlight/models"
)

// watchlistDir is where the watch list lives unless --watchlist says otherwise: $SNOWLIGHT_WATCHLIST, else
// data/watchlist (beside the default data directory).
func watchlistDir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if d := os.Getenv("SNOWLIGHT_WATCHLIST"); d != "" {
		return d
	}
	return filepath.Join("data", "watchlist")
}

// runEnroll adds a person to the watch list from photos, or lists or removes entries.
func runEnroll(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return runEnrollList(ctx, e, args[1:])
		case "remove":
			return runEnrollRemove(ctx, e, args[1:])
		}
	}
	fs := newFlagSet(e, "enroll", "--name NAME --category at-risk|missing|suspect [--watchlist DIR] "+
		"[--models DIR] PHOTO...\n       snowlight enroll list [--watchlist DIR] [--json]\n"+
		"       snowlight enroll remove [--watchlist DIR] ID")
	name := fs.String("name", "", "the person's name")
	category := fs.String("category", "", "watch-list category: at-risk, missing or suspect")
	wl := fs.String("watchlist", "", "watch-list directory (default $SNOWLIGHT_WATCHLIST or data/watchlist)")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+")")
	legal := fs.String("legal-basis", "", "why this person may be searched for (case number, order)")
	expires := fs.String("expires", "", "date (YYYY-MM-DD) after which the entry no longer matches")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || *category == "" || fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cat, err := detect.ParseCategory(*category)
	if err != nil {
		return err
	}
	var until time.Time
	if *expires != "" {
		if until, err = time.Parse("2006-01-02", *expires); err != nil {
			return fmt.Errorf("--expires %q: want YYYY-MM-DD", *expires)
		}
		if !until.After(time.Now()) {
			return fmt.Errorf("--expires %s is in the past", *expires)
		}
	}
	dir := models.ResolveDir(*modelsDir)
	if dir == "" {
		return fmt.Errorf("enrolment needs the face models: run `make models` and pass --models DIR or set %s",
			models.EnvDir)
	}
	store, err := detect.NewDirStore(watchlistDir(*wl))
	if err != nil {
		return err
	}
	cfg := detect.DefaultConfig(dir)
	cfg.Appearance = false
	cfg.Log = e.log
	p, err := detect.NewPipeline(cfg)
	if err != nil {
		return err
	}
	defer p.Close()

	rules := detect.DefaultEnrolmentRules()
	var photos []detect.PhotoInput
	var raw [][]byte
	for _, path := range fs.Args() {
		st, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("enrolment photo: %w", err)
		}
		if st.Size() > int64(rules.Limits.MaxBytes) {
			return fmt.Errorf("enrolment photo %s: %d bytes, limit %d", path, st.Size(), rules.Limits.MaxBytes)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("enrolment photo: %w", err)
		}
		photos = append(photos, detect.PhotoInput{Name: path, Data: data})
		raw = append(raw, data)
	}
	id, err := p.Enrol(ctx, *name, cat, photos, rules)
	if err != nil {
		return err
	}
	id.LegalBasis, id.Expires = *legal, until
	if u := os.Getenv("USER"); u != "" {
		id.EnrolledBy = u
	}
	if err := store.Add(ctx, id, raw); err != nil {
		return err
	}
	e.log.Info("enrolled", "id", id.ID, "name", id.Name, "category", id.Category, "photos", len(id.Photos))
	fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%d photo(s)\n", id.ID, id.Name, id.Category, len(id.Photos))
	return nil
}

func runEnrollList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "enroll list", "[--watchlist DIR] [--json]")
	wl := fs.String("watchlist", "", "watch-list directory (default $SNOWLIGHT_WATCHLIST or data/watchlist)")
	asJSON := fs.Bool("json", false, "one JSON object per person (without embeddings)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := detect.NewDirStore(watchlistDir(*wl))
	if err != nil {
		return err
	}
	ids, err := store.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, id := range ids {
			id.Embeddings = nil
			if err := enc.Encode(id); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCATEGORY\tPHOTOS\tENROLLED\tEXPIRES")
	for _, id := range ids {
		exp := "-"
		if !id.Expires.IsZero() {
			exp = id.Expires.Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", id.ID, id.Name, id.Category, len(id.Photos),
			id.EnrolledAt.Format("2006-01-02 15:04"), exp)
	}
	return tw.Flush()
}

func runEnrollRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "enroll remove", "[--watchlist DIR] ID")
	wl := fs.String("watchlist", "", "watch-list directory (default $SNOWLIGHT_WATCHLIST or data/watchlist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	store, err := detect.NewDirStore(watchlistDir(*wl))
	if err != nil {
		return err
	}
	if err := store.Remove(ctx, fs.Arg(0)); err != nil {
		return err
	}
	e.log.Info("removed from the watch list", "id", fs.Arg(0))
	return nil
}
