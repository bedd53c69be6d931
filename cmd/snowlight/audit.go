package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"snowlight/audit"
	"snowlight/objstore"
	"snowlight/store"
)

const auditUsage = "--db FILE [--objects DIR | --minio-endpoint HOST:PORT --minio-bucket B --minio-access-key K] [--audit-key REF] [--audit-previous-keys REFS] [--anchor ID:HASH]"

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stderr, "usage: snowlight audit verify "+auditUsage)
		return errUsage
	}
	fs := newFlagSet(e, "audit verify", auditUsage)
	dbPath := fs.String("db", "", "the SQLite database")
	of := addObjectFlags(fs)
	af := addAuditFlags(fs)
	anchorFlag := fs.String("anchor", "", "a head printed by an earlier verify (ID:HASH), kept outside the database: it must still be in the chain")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var anchor audit.Head
	if *anchorFlag != "" {
		var err error
		if anchor, err = audit.ParseHead(*anchorFlag); err != nil {
			return err
		}
	}
	keys, err := af.keyring()
	if err != nil {
		return err
	}
	objs, err := of.open(ctx)
	if err != nil {
		return err
	}
	if *dbPath == "" {
		return errors.New("give --db FILE: the product's SQLite database")
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("database %s: %w", *dbPath, err)
	}
	db, err := store.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	o := audit.Options{Keys: keys}
	if objs != nil {
		o.Anchors = objstore.Records{Store: objs, Prefix: audit.AnchorPrefix}
	}
	rep, err := audit.NewLog(db, o).Verify(ctx, anchor)
	if err != nil {
		return err
	}
	if !rep.OK() && rep.Broken == 0 {
		fmt.Fprintf(e.stdout, "audit anchors BROKEN: %s\n", rep.Problem)
		return errors.New("audit anchors broken")
	}
	if !rep.OK() {
		fmt.Fprintf(e.stdout, "audit chain BROKEN at entry %d: %s\n%d entries before it verified\n", rep.Broken, rep.Problem, rep.Checked)
		return fmt.Errorf("audit chain broken at entry %d", rep.Broken)
	}
	fmt.Fprintf(e.stdout, "audit chain intact: %d entries (%d sealed without a key)\nhead %s\n", rep.Checked, rep.Unkeyed, rep.Head)
	switch {
	case objs == nil:
		fmt.Fprintln(e.stdout, "no anchors checked: give the object store (--objects or --minio-...) to detect removed or rewritten entries")
	case rep.Anchored == nil:
		fmt.Fprintln(e.stdout, "the object store holds no anchors yet")
	default:
		fmt.Fprintf(e.stdout, "matches %d anchors, the newest of entry %d at %s\n", rep.Anchors, rep.Anchored.ID, rep.Anchored.Time.Format("2006-01-02T15:04:05Z07:00"))
	}
	return nil
}
