package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestConsole runs the browser suite against a server over fake services with a real live view, or,
// when SNOWLIGHT_CONSOLE_URL is set, against that server (see targetFromEnv).
func TestConsole(t *testing.T) {
	var tg Target
	if os.Getenv("SNOWLIGHT_CONSOLE_URL") != "" {
		var err error
		if tg, err = targetFromEnv(os.Getenv); err != nil {
			t.Fatal(err)
		}
	} else {
		tg = newFixture(t).target("")
	}
	res := Run(t, tg)
	fmt.Printf("browser test screenshots: %s\n", res.Shots)
	if res.FirstFrame > 0 {
		t.Logf("first decoded frame %v after the WHEP offer", res.FirstFrame)
	}
}

// targetFromEnv describes a running server:
//
//	SNOWLIGHT_CONSOLE_URL        base URL, e.g. http://127.0.0.1:8080
//	SNOWLIGHT_CONSOLE_OPERATOR   user:password (likewise _INVESTIGATOR)
//	SNOWLIGHT_CONSOLE_GUARDIANS  user:password@person,user:password@person
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
	gs := strings.Split(getenv("SNOWLIGHT_CONSOLE_GUARDIANS"), ",")
	if len(gs) != 2 {
		return tg, fmt.Errorf("SNOWLIGHT_CONSOLE_GUARDIANS: want two user:password@person")
	}
	for i, g := range gs {
		a, person, ok := strings.Cut(g, "@")
		if !ok {
			return tg, fmt.Errorf("SNOWLIGHT_CONSOLE_GUARDIANS: %q lacks @person", g)
		}
		if tg.Guardians[i].Account, err = acct("SNOWLIGHT_CONSOLE_GUARDIANS", a); err != nil {
			return tg, err
		}
		tg.Guardians[i].Person = person
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
