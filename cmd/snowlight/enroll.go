package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"snowlight/audit"
	"snowlight/config"
	"snowlight/deploy"
	"snowlight/detect"
	"snowlight/models"
	"snowlight/store"
	"snowlight/watchlist"
)

// runEnroll adds a person to the database's watch list from photos, or lists or removes entries.
func runEnroll(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return runEnrollList(ctx, e, args[1:])
		case "remove":
			return runEnrollRemove(ctx, e, args[1:])
		}
	}
	fs := newFlagSet(e, "enroll", "--db FILE --name NAME --category at_risk|missing|suspect --legal-basis TEXT "+
		"--approved-by NAME [--expires YYYY-MM-DD] [--guardian-contact TEXT] [--config FILE.yaml] [--models DIR] [--engine E] [--audit-key REF] PHOTO...\n"+
		"       snowlight enroll list --db FILE [--json]\n"+
		"       snowlight enroll remove --db FILE [--audit-key REF] ID")
	dbPath := fs.String("db", "", "the snowlight database (SQLite) whose watch list the person joins; created if missing")
	name := fs.String("name", "", "the person's name")
	category := fs.String("category", "", "watch-list category: at_risk, missing or suspect")
	legal := fs.String("legal-basis", "", "why this person may be searched for (case number, order)")
	approved := fs.String("approved-by", "", "who authorised the entry")
	expires := fs.String("expires", "", "date (YYYY-MM-DD) from which the entry no longer matches (default and limit: the category's longest listing)")
	guardian := fs.String("guardian-contact", "", "whom to call about an at-risk or missing person")
	cfgPath := fs.String("config", "", "deployment configuration whose watch-list policy limits the expiry (default: the built-in policy)")
	modelsDir := fs.String("models", "", "models directory (default $"+models.EnvDir+")")
	af := addAuditFlags(fs)
	engine := addEngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbPath == "" || *name == "" || *category == "" || fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	cat, err := watchlist.ParseCategory(*category)
	if err != nil {
		return err
	}
	policy := watchlist.DefaultPolicy()
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		d, err := deploy.Decode(cfg)
		if err != nil {
			return fmt.Errorf("config %s: %w", *cfgPath, err)
		}
		policy = d.Watchlist
	}
	now := time.Now().UTC()
	until := now.Add(policy.MaxExpiry[cat])
	if *expires != "" {
		if until, err = time.Parse(time.DateOnly, *expires); err != nil {
			return fmt.Errorf("--expires %q: want YYYY-MM-DD", *expires)
		}
	}
	// What the law asks is checked before the models load and the photos are read.
	draft := watchlist.Person{Name: *name, Category: cat, LegalBasis: strings.TrimSpace(*legal),
		ApprovedBy: strings.TrimSpace(*approved), Enrolled: now, Expires: until}
	if err := policy.CheckEntry(&draft, now); err != nil {
		return err
	}
	dir := models.ResolveDir(*modelsDir)
	if dir == "" {
		return fmt.Errorf("enrolment needs the face models: run `make models` and pass --models DIR or set %s",
			models.EnvDir)
	}
	rules := detect.DefaultEnrolmentRules()
	var photos []detect.PhotoInput
	var raw [][]byte
	for _, path := range fs.Args() {
		ph, err := detect.ReadPhotoFile(path, rules.Limits.MaxBytes)
		if err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		photos = append(photos, ph)
		raw = append(raw, ph.Data)
	}
	cfg := detect.DefaultConfig(dir)
	cfg.Appearance = false
	cfg.Log = e.log
	if err := engine.configure(&cfg, e.log); err != nil {
		return err
	}
	p, err := detect.NewPipeline(cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	person, err := p.Enrol(ctx, *name, cat, photos, rules)
	if err != nil {
		return err
	}
	person.LegalBasis, person.ApprovedBy, person.Expires = draft.LegalBasis, draft.ApprovedBy, draft.Expires
	person.GuardianContact, person.EnrolledBy = strings.TrimSpace(*guardian), cliActor()

	db, err := store.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := af.writer(ctx, db)
	if err != nil {
		return err
	}
	if err := db.Watchlist().Add(ctx, person, raw); err != nil {
		return err
	}
	if _, err := log.Append(ctx, audit.Record{Actor: cliActor(), Role: "local", Action: "watchlist.enrol",
		Target: person.ID, Details: map[string]string{"name": person.Name, "category": string(person.Category),
			"legal_basis": person.LegalBasis, "approved_by": person.ApprovedBy, "expires": person.Expires.Format(time.RFC3339),
			"photos": fmt.Sprint(len(person.Photos))}}); err != nil {
		return err
	}
	e.log.Info("enrolled", "id", person.ID, "category", person.Category, "photos", len(person.Photos))
	fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%d photo(s)\texpires %s\n", person.ID, person.Name, person.Category, len(person.Photos),
		person.Expires.Format(time.DateOnly))
	return nil
}

// openWatchlistDB opens an existing database: listing or removing never creates one.
func openWatchlistDB(ctx context.Context, path string) (*store.DB, error) {
	if path == "" {
		return nil, errors.New("give --db FILE: the product's SQLite database")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return store.Open(ctx, path)
}

func runEnrollList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "enroll list", "--db FILE [--json]")
	dbPath := fs.String("db", "", "the snowlight database (SQLite)")
	asJSON := fs.Bool("json", false, "one JSON object per person (without embeddings)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	db, err := openWatchlistDB(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	persons, err := db.Watchlist().List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, p := range persons {
			p.Embeddings = nil
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCATEGORY\tPHOTOS\tENROLLED\tEXPIRES")
	for _, p := range persons {
		exp := "-"
		if !p.Expires.IsZero() {
			exp = p.Expires.Format(time.DateOnly)
			if p.Expired(now) {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.ID, p.Name, p.Category, len(p.Photos),
			p.Enrolled.Format("2006-01-02 15:04"), exp)
	}
	return tw.Flush()
}

func runEnrollRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "enroll remove", "--db FILE [--audit-key REF] ID")
	dbPath := fs.String("db", "", "the snowlight database (SQLite)")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	db, err := openWatchlistDB(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := af.writer(ctx, db)
	if err != nil {
		return err
	}
	id := fs.Arg(0)
	if err := db.Watchlist().Remove(ctx, id); err != nil {
		return err
	}
	if _, err := log.Append(ctx, audit.Record{Actor: cliActor(), Role: "local", Action: "watchlist.remove",
		Target: id}); err != nil {
		return err
	}
	e.log.Info("removed from the watch list", "id", id)
	return nil
}
