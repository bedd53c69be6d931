package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DemoOptions configures EnsureDemoAccounts.
type DemoOptions struct {
	// Getenv reads SNOWLIGHT_<ROLE>_PASSWORD (e.g. SNOWLIGHT_ADMIN_PASSWORD); os.Getenv in the product.
	// When it returns "" the password is random.
	Getenv func(string) string
	// OperatorScope is the demo operator's scope: all cameras when empty.
	OperatorScope Scope
	// GuardianScope names the watch-list persons the demo guardian guards.
	GuardianScope Scope
}

// DemoAccount is one account EnsureDemoAccounts made or found.
type DemoAccount struct {
	Name     string
	Role     Role
	Created  bool   // false: it existed and was left alone
	Password string // set only when Created
}

// PasswordEnv is the environment variable that sets a demo account's password.
func PasswordEnv(r Role) string { return "SNOWLIGHT_" + strings.ToUpper(string(r)) + "_PASSWORD" }

// EnsureDemoAccounts creates one account per role, named after the role, and prints each new account's
// password to w once (an existing account keeps its password and is only listed). Passwords come from
// SNOWLIGHT_<ROLE>_PASSWORD or are random.
func (s *Service) EnsureDemoAccounts(ctx context.Context, opts DemoOptions, w io.Writer) ([]DemoAccount, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out []DemoAccount
	for _, r := range Roles() {
		name := string(r)
		if _, err := s.UserByName(ctx, name); err == nil {
			out = append(out, DemoAccount{Name: name, Role: r})
			fmt.Fprintf(w, "demo account %-12s exists; password unchanged\n", name)
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return out, fmt.Errorf("demo account %s: %w", name, err)
		}
		pw, source := getenv(PasswordEnv(r)), "from "+PasswordEnv(r)
		if pw == "" {
			var err error
			if pw, err = RandomPassword(); err != nil {
				return out, err
			}
			source = "shown once; set " + PasswordEnv(r) + " to choose it"
		} else if err := CheckPassword(name, pw); err != nil {
			return out, fmt.Errorf("demo account %s: %s: %w", name, PasswordEnv(r), err)
		}
		var sc Scope
		switch r {
		case Operator:
			sc = opts.OperatorScope
			if len(sc.Cameras) == 0 && len(sc.Areas) == 0 {
				sc.Cameras = []string{AllCameras}
			}
		case Guardian:
			sc = opts.GuardianScope
		}
		if _, err := s.AddUser(ctx, NewUser{Name: name, Role: r, Password: pw, Scope: sc}); err != nil {
			return out, fmt.Errorf("demo account %s: %w", name, err)
		}
		out = append(out, DemoAccount{Name: name, Role: r, Created: true, Password: pw})
		fmt.Fprintf(w, "demo account %-12s password %s  (%s)\n", name, pw, source)
	}
	return out, nil
}
