package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"

	"snowlight/audit"
	"snowlight/auth"
	"snowlight/store"
)

func runUser(ctx context.Context, e *env, args []string) error {
	sub := map[string]func(context.Context, *env, []string) error{
		"add": runUserAdd, "passwd": runUserPasswd, "disable": runUserDisable, "list": runUserList,
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(e.stderr, "usage: snowlight user add|passwd|disable|list --db FILE ...\n\nRun 'snowlight user <add|passwd|disable|list> -h' for the flags.")
		return errUsage
	}
	return sub[args[0]](ctx, e, args[1:])
}

// openUserDB opens the database and the account service the user commands need. Only "user add" may
// create a new database: a mistyped path elsewhere must not quietly produce an empty one.
func openUserDB(ctx context.Context, path string, create bool) (*store.DB, *auth.Service, error) {
	if path == "" {
		return nil, nil, errors.New("give --db FILE: the product's SQLite database")
	}
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.NewService(auth.Config{Store: db})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, svc, nil
}

// cliActor names the person at the terminal in audit entries.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli:unknown"
}

// readPassword reads the first line of file ("-" for standard input); with no file it makes a random
// password, which the caller prints once.
func readPassword(file string) (pw string, generated bool, err error) {
	if file == "" {
		pw, err = auth.RandomPassword()
		return pw, true, err
	}
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, auth.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", false, fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runUserAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user add", "--db FILE --name NAME --role ROLE [--cameras IDS] [--areas IDS] [--persons IDS] [--password-file FILE|-] [--audit-key REF]")
	db := fs.String("db", "", "the SQLite database (created if missing)")
	name := fs.String("name", "", "user name")
	role := fs.String("role", "", "admin, operator, investigator, patrol, guardian or auditor")
	cams := fs.String("cameras", "", "operator: comma-separated camera ids, or * for all")
	areas := fs.String("areas", "", "operator: comma-separated area ids")
	persons := fs.String("persons", "", "guardian: comma-separated watch-list person ids they guard")
	pwFile := fs.String("password-file", "", "read the password from this file's first line (- for stdin); random and printed once when omitted")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return err
	}
	pw, generated, err := readPassword(*pwFile)
	if err != nil {
		return err
	}
	d, svc, err := openUserDB(ctx, *db, true)
	if err != nil {
		return err
	}
	defer d.Close()
	log, err := af.writer(ctx, d)
	if err != nil {
		return err
	}
	sc := auth.Scope{Cameras: splitList(*cams), Areas: splitList(*areas), Persons: splitList(*persons)}
	u, err := svc.AddUser(ctx, auth.NewUser{Name: *name, Role: r, Password: pw, Scope: sc})
	if err != nil {
		return err
	}
	if _, err := log.Append(ctx, audit.Record{Actor: cliActor(), Role: "local", Action: "user.create", Target: u.Name,
		Details: map[string]string{"role": string(u.Role)}}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %s (%s, id %d)\n", u.Name, u.Role, u.ID)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n(shown once: hand it over securely)\n", pw)
	}
	return nil
}

func runUserPasswd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user passwd", "--db FILE --name NAME [--password-file FILE|-] [--audit-key REF]")
	db := fs.String("db", "", "the SQLite database")
	name := fs.String("name", "", "user name")
	pwFile := fs.String("password-file", "", "read the new password from this file's first line (- for stdin); random and printed once when omitted")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	pw, generated, err := readPassword(*pwFile)
	if err != nil {
		return err
	}
	if err := changeUser(ctx, *db, *name, af, "user.password", func(svc *auth.Service, u auth.User) error {
		return svc.SetPassword(ctx, u.ID, pw)
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s changed; their sessions and tokens have ended\n", *name)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n(shown once: hand it over securely)\n", pw)
	}
	return nil
}

func runUserDisable(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user disable", "--db FILE --name NAME [--audit-key REF]")
	db := fs.String("db", "", "the SQLite database")
	name := fs.String("name", "", "user name")
	af := addAuditFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := changeUser(ctx, *db, *name, af, "user.disable", func(svc *auth.Service, u auth.User) error {
		return svc.SetDisabled(ctx, u.ID, true)
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "disabled %s; their sessions and tokens have ended\n", *name)
	return nil
}

// changeUser applies change to the named user and records it in the audit log as action.
func changeUser(ctx context.Context, db, name string, af auditFlags, action string, change func(*auth.Service, auth.User) error) error {
	d, svc, err := openUserDB(ctx, db, false)
	if err != nil {
		return err
	}
	defer d.Close()
	log, err := af.writer(ctx, d)
	if err != nil {
		return err
	}
	u, err := svc.UserByName(ctx, name)
	if err != nil {
		return err
	}
	if err := change(svc, u); err != nil {
		return err
	}
	_, err = log.Append(ctx, audit.Record{Actor: cliActor(), Role: "local", Action: action, Target: u.Name})
	return err
}

func runUserList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user list", "--db FILE")
	db := fs.String("db", "", "the SQLite database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, svc, err := openUserDB(ctx, *db, false)
	if err != nil {
		return err
	}
	defer d.Close()
	us, err := svc.Users(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tSTATE\tSCOPE")
	for _, u := range us {
		state := "active"
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Role, state, scopeText(u.Scope))
	}
	return tw.Flush()
}

func scopeText(s auth.Scope) string {
	var parts []string
	if len(s.Cameras) > 0 {
		parts = append(parts, "cameras="+strings.Join(s.Cameras, ","))
	}
	if len(s.Areas) > 0 {
		parts = append(parts, "areas="+strings.Join(s.Areas, ","))
	}
	if len(s.Persons) > 0 {
		parts = append(parts, "persons="+strings.Join(s.Persons, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
