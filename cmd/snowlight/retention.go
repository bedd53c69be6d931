package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/retention"
	"snowlight/store"
)

const retentionUsage = `usage: snowlight retention run --db FILE (--objects DIR | --minio-endpoint HOST:PORT --minio-bucket B --minio-access-key K) [--dry-run] [--json] [periods]
       snowlight retention holds --db FILE [--case C] [--all]
       snowlight retention hold --db FILE --case C --reason TEXT ITEM...
       snowlight retention release --db FILE --case C --reason TEXT [ITEM...]
ITEM is sighting/ID, trajectory/ID (any of its sightings) or alert/ID; release with no ITEM releases the whole case.
The MinIO secret key is read from the environment variable named by --minio-secret-env.`

func runRetention(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, retentionUsage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return retentionRun(ctx, e, args[1:])
	case "holds":
		return retentionHolds(ctx, e, args[1:])
	case "hold", "release":
		return retentionHold(ctx, e, args[0], args[1:])
	}
	fmt.Fprintln(e.stderr, retentionUsage)
	return errUsage
}

func openRetentionDB(ctx context.Context, path string) (*store.DB, error) {
	if path == "" {
		return nil, errors.New("give --db FILE: the product's SQLite database")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return store.Open(ctx, path)
}

func retentionRun(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "retention run", "--db FILE (--objects DIR | --minio-endpoint HOST:PORT --minio-bucket B --minio-access-key K) [--dry-run]")
	dbPath := fs.String("db", "", "the SQLite database")
	of := addObjectFlags(fs)
	dry := fs.Bool("dry-run", false, "report what would be deleted, delete nothing")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var p retention.Policy
	fs.DurationVar(&p.Unlisted, "unlisted", retention.DefaultUnlisted, "keep sightings of people on no watch list this long")
	fs.DurationVar(&p.Alerts, "alerts", retention.DefaultAlerts, "keep final alerts, their evidence and sightings this long")
	fs.DurationVar(&p.Listed, "listed", 0, "keep sightings of listed people no alert names this long (default: --alerts)")
	fs.DurationVar(&p.ExpiredGrace, "expired-grace", retention.DefaultExpiredGrace, "keep an expired watch-list entry's embeddings and photos this long")
	batch := fs.Int("batch", 500, "rows per write transaction")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	objs, err := of.open(ctx)
	if err != nil {
		return err
	}
	if objs == nil {
		return errors.New("give the object store: --objects DIR or --minio-endpoint HOST:PORT")
	}
	db, err := openRetentionDB(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := af.writer(ctx, db)
	if err != nil {
		return err
	}
	job, err := retention.New(retention.Options{Store: db, Objects: objs, Audit: log, Policy: p,
		Logger: e.log, BatchSize: *batch, Actor: cliActor()})
	if err != nil {
		return err
	}
	run := job.Once
	if *dry {
		run = job.DryRun
	}
	rep, err := run(ctx)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil {
			return jerr
		}
	} else {
		rep.WriteText(e.stdout)
	}
	return err
}

// objectFlags name the object store: a local directory or a MinIO bucket.
type objectFlags struct {
	dir, secretEnv *string
	mc             *objstore.MinIOConfig
}

func addObjectFlags(fs *flag.FlagSet) objectFlags {
	f := objectFlags{mc: &objstore.MinIOConfig{}}
	f.dir = fs.String("objects", "", "the local object store directory")
	fs.StringVar(&f.mc.Endpoint, "minio-endpoint", "", "MinIO (S3) endpoint host:port, instead of --objects")
	fs.StringVar(&f.mc.Bucket, "minio-bucket", "", "MinIO bucket")
	fs.StringVar(&f.mc.AccessKey, "minio-access-key", "", "MinIO access key")
	f.secretEnv = fs.String("minio-secret-env", "SNOWLIGHT_MINIO_SECRET_KEY", "environment variable holding the MinIO secret key")
	fs.BoolVar(&f.mc.Secure, "minio-secure", false, "reach MinIO over HTTPS")
	return f
}

// open opens the local directory or, with an endpoint, the MinIO bucket; nil when neither was given.
// The secret comes from the environment so it is neither on the command line nor in shell history.
func (f objectFlags) open(ctx context.Context) (objstore.Store, error) {
	dir, mc := *f.dir, *f.mc
	switch {
	case dir != "" && mc.Endpoint != "":
		return nil, errors.New("give either --objects or --minio-endpoint, not both")
	case dir != "":
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("object directory %s: not a directory (%v)", dir, err)
		}
		return objstore.OpenDir(dir, objstore.DirOptions{})
	case mc.Endpoint != "":
		mc.SecretKey = os.Getenv(*f.secretEnv)
		if mc.Bucket == "" || mc.AccessKey == "" || mc.SecretKey == "" {
			return nil, fmt.Errorf("MinIO needs --minio-bucket, --minio-access-key and the secret key in $%s", *f.secretEnv)
		}
		return objstore.OpenMinIO(ctx, mc)
	}
	return nil, nil
}

func retentionHolds(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "retention holds", "--db FILE [--case C] [--all]")
	dbPath := fs.String("db", "", "the SQLite database")
	caseNum := fs.String("case", "", "only this case's holds")
	all := fs.Bool("all", false, "include released holds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openRetentionDB(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	q := retention.HoldQuery{Case: *caseNum, All: *all, Limit: 1000}
	for {
		hs, err := db.Holds(ctx, q)
		if err != nil {
			return err
		}
		for _, h := range hs {
			state := "held"
			if h.Released != nil {
				state = fmt.Sprintf("released %s by %s: %s", h.Released.At.Format(time.RFC3339), h.Released.By, h.Released.Reason)
			}
			via := ""
			if h.Via != "" {
				via = " (via " + h.Via + ")"
			}
			fmt.Fprintf(e.stdout, "%d\t%s\t%s%s\t%s by %s: %s\t%s\n", h.ID, h.Case, h.Item, via, h.At.Format(time.RFC3339), h.By, h.Reason, state)
		}
		if len(hs) < q.Limit {
			return nil
		}
		q.After = hs[len(hs)-1].ID
	}
}

func retentionHold(ctx context.Context, e *env, verb string, args []string) error {
	fs := newFlagSet(e, "retention "+verb, "--db FILE --case C --reason TEXT ITEM...")
	dbPath := fs.String("db", "", "the SQLite database")
	caseNum := fs.String("case", "", "the case number")
	reason := fs.String("reason", "", "why (recorded in the audit log)")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var items []retention.Item
	for _, a := range fs.Args() {
		it, err := retention.ParseItem(a)
		if err != nil {
			return err
		}
		items = append(items, it)
	}
	db, err := openRetentionDB(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := af.writer(ctx, db)
	if err != nil {
		return err
	}
	holds, err := retention.NewHolds(db, log, nil)
	if err != nil {
		return err
	}
	who := retention.Actor{Name: cliActor(), Role: "cli"}
	c := audit.Case{Number: *caseNum, Reason: *reason}
	var hs []retention.Hold
	if verb == "hold" {
		hs, err = holds.Hold(ctx, who, c, items...)
	} else {
		hs, err = holds.Release(ctx, who, c, items...)
	}
	if err != nil {
		return err
	}
	past := map[string]string{"hold": "held", "release": "released"}[verb]
	for _, h := range hs {
		via := ""
		if h.Via != "" {
			via = " (via " + h.Via + ")"
		}
		fmt.Fprintf(e.stdout, "%s %s for case %s%s\n", past, h.Item, h.Case, via)
	}
	return nil
}
