package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"

	"snowlight/casebundle"
)

// runCase verifies a case evidence bundle offline: exit 0 when every file is as signed, 1 with the
// file at fault named otherwise.
func runCase(_ context.Context, e *env, args []string) error {
	const synopsis = "verify BUNDLE [--public-key BASE64 | --fingerprint \"xxxx xxxx ...\"]"
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(e.stderr, "usage: snowlight case "+synopsis)
		return errUsage
	}
	fs := newFlagSet(e, "case", synopsis)
	pubFlag := fs.String("public-key", "", "the server's public key (console, `snowlight version`): the bundle must be signed with it")
	fpFlag := fs.String("fingerprint", "", "the server's key fingerprint: the bundle's signer must have it")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 1 {
		fs.Usage()
		return errUsage
	}
	var opts casebundle.VerifyOptions
	if *pubFlag != "" {
		pub, err := casebundle.ParsePublicKey(*pubFlag)
		if err != nil {
			return err
		}
		opts.PublicKey = pub
	}
	m, err := casebundle.VerifyFile(rest[0], opts)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: NOT VERIFIED\n", rest[0])
		return err
	}
	pub, err := casebundle.ParsePublicKey(m.PublicKey)
	if err != nil {
		return err
	}
	fp := casebundle.Fingerprint(ed25519.PublicKey(pub))
	if want := strings.Join(strings.Fields(*fpFlag), ""); want != "" && want != strings.ReplaceAll(fp, " ", "") {
		fmt.Fprintf(e.stdout, "%s: NOT VERIFIED\n", rest[0])
		return fmt.Errorf("bundle signed by key %s, not %s", fp, *fpFlag)
	}
	fmt.Fprintf(e.stdout, "%s: verified: %d files as signed\ncase %s, exported by %s at %s (reason: %s)\nsigned by key %s\n",
		rest[0], len(m.Files), m.Case, m.CreatedBy, m.Created.Format("2006-01-02 15:04:05 MST"), m.Reason, fp)
	if opts.PublicKey == nil && *fpFlag == "" {
		fmt.Fprintln(e.stdout, "(compare that fingerprint with the server's, or pass --fingerprint, to know the server signed it)")
	}
	return nil
}
