package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"snowlight/casebundle"

	"github.com/stretchr/testify/require"
)

// TestConsole runs the browser suite against a server over fake services with a real live view, or,
// when SNOWLIGHT_CONSOLE_URL is set, against that server (see targetFromEnv).
func TestConsole(t *testing.T) {
	var tg Target
	if os.Getenv("SNOWLIGHT_CONSOLE_URL") != "" {
		var err error
		tg, err = targetFromEnv(os.Getenv)
		require.NoError(t, err)
	} else {
		tg = newFixture(t).target("")
	}
	res := Run(t, tg)
	if res.Bundle != "" {
		CheckBundle(t, res.Bundle, func(p string) error { _, err := casebundle.VerifyFile(p, casebundle.VerifyOptions{}); return err })
	}
	fmt.Printf("browser test screenshots: %s\n", res.Shots)
	if res.FirstFrame > 0 {
		t.Logf("first decoded frame %v after the WHEP offer", res.FirstFrame)
	}
}

// targetFromEnv describes a running server:
//
//	SNOWLIGHT_CONSOLE_URL        base URL, e.g. http://127.0.0.1:8080
//	SNOWLIGHT_CONSOLE_OPERATOR   user:password (likewise _INVESTIGATOR, and optionally _AUDITOR)
//	SNOWLIGHT_CONSOLE_GUARDIANS  user:password@person,other-person (the guardian must not see the
//	                             other person's alert; user:password@other-person is accepted too)
//	SNOWLIGHT_CONSOLE_NEAREST    optional: the unit dispatching the guardian's person's alert must pick
//	SNOWLIGHT_CONSOLE_CAMERA     a camera with live video
//	SNOWLIGHT_CONSOLE_PERSON     a person with a trajectory in the last 24 h
//	SNOWLIGHT_CONSOLE_ALERT_CMD  a shell command that raises an alert for the person in $PERSON and
//	                             prints its id
//	SNOWLIGHT_CONSOLE_PHOTO      optional: a face photo, to test enrolment
func targetFromEnv(getenv func(string) string) (Target, error) {
	tg := Target{BaseURL: getenv("SNOWLIGHT_CONSOLE_URL"), Camera: getenv("SNOWLIGHT_CONSOLE_CAMERA"), Person: getenv("SNOWLIGHT_CONSOLE_PERSON"),
		EnrolPhoto: getenv("SNOWLIGHT_CONSOLE_PHOTO")}
	acct := func(name, v string) (Account, error) {
		u, p, ok := strings.Cut(v, ":")
		if !ok || u == "" || p == "" {
			return Account{}, fmt.Errorf("%s: want user:password", name)
		}
		return Account{User: u, Password: p}, nil
	}
	var err error
	if tg.Operator, err = acct("SNOWLIGHT_CONSOLE_OPERATOR", getenv("SNOWLIGHT_CONSOLE_OPERATOR")); err != nil {
		return tg, err
	}
	if tg.Investigator, err = acct("SNOWLIGHT_CONSOLE_INVESTIGATOR", getenv("SNOWLIGHT_CONSOLE_INVESTIGATOR")); err != nil {
		return tg, err
	}
	if v := getenv("SNOWLIGHT_CONSOLE_AUDITOR"); v != "" {
		if tg.Auditor, err = acct("SNOWLIGHT_CONSOLE_AUDITOR", v); err != nil {
			return tg, err
		}
	}
	tg.NearestUnit = getenv("SNOWLIGHT_CONSOLE_NEAREST")
	gs := strings.Split(getenv("SNOWLIGHT_CONSOLE_GUARDIANS"), ",")
	if len(gs) != 2 {
		return tg, fmt.Errorf("SNOWLIGHT_CONSOLE_GUARDIANS: want user:password@person,other-person")
	}
	a, person, ok := strings.Cut(gs[0], "@")
	if !ok {
		return tg, fmt.Errorf("SNOWLIGHT_CONSOLE_GUARDIANS: %q lacks @person", gs[0])
	}
	if tg.Guardians[0].Account, err = acct("SNOWLIGHT_CONSOLE_GUARDIANS", a); err != nil {
		return tg, err
	}
	tg.Guardians[0].Person = person
	if _, other, ok := strings.Cut(gs[1], "@"); ok {
		tg.Guardians[1].Person = other
	} else {
		tg.Guardians[1].Person = gs[1]
	}
	cmd := getenv("SNOWLIGHT_CONSOLE_ALERT_CMD")
	if tg.Camera == "" || tg.Person == "" || cmd == "" {
		return tg, fmt.Errorf("set SNOWLIGHT_CONSOLE_CAMERA, SNOWLIGHT_CONSOLE_PERSON and SNOWLIGHT_CONSOLE_ALERT_CMD")
	}
	tg.RaiseAlert = func(ctx context.Context, person string) (string, error) {
		c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
		c.Env = append(os.Environ(), "PERSON="+person)
		out, err := c.Output()
		if err != nil {
			return "", fmt.Errorf("SNOWLIGHT_CONSOLE_ALERT_CMD: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	return tg, nil
}
