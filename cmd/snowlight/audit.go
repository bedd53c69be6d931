package main

import (
	"context"
	"fmt"

	"snowlight/audit"
)

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stderr, "usage: snowlight audit verify --db FILE [--anchor ID:HASH]")
		return errUsage
	}
	fs := newFlagSet(e, "audit verify", "--db FILE [--anchor ID:HASH]")
	db := fs.String("db", "", "the SQLite database")
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
	d, _, log, err := openUserDB(ctx, *db, false)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := log.Verify(ctx, anchor)
	if err != nil {
		return err
	}
	if !rep.OK() {
		fmt.Fprintf(e.stdout, "audit chain BROKEN at entry %d: %s\n%d entries before it verified\n", rep.Broken, rep.Problem, rep.Checked)
		return fmt.Errorf("audit chain broken at entry %d", rep.Broken)
	}
	fmt.Fprintf(e.stdout, "audit chain intact: %d entries\nhead %s\n(keep the head somewhere else and pass it as --anchor next time to detect removed entries)\n",
		rep.Checked, rep.Head)
	return nil
}
