package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"runtime/debug"

	"snowlight/casebundle"
	"snowlight/config"
)

// runVersion prints the version and, given a configuration, the fingerprint of the key that signs its
// evidence bundles: what a court compares with `snowlight case verify`'s.
func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "version", "[--config FILE.yaml | --signing-key FILE]")
	cfgPath := fs.String("config", "", "the deployment's configuration: print its evidence signing key's fingerprint")
	keyPath := fs.String("signing-key", "", "an evidence signing key file: print its fingerprint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintln(e.stdout, "snowlight", v)
	path := *keyPath
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		path = cfg.Evidence.SigningKey
	}
	if path == "" {
		return nil
	}
	key, err := casebundle.LoadKey(path)
	if err != nil {
		return fmt.Errorf("evidence signing key: %w (serve creates it on first start)", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	fmt.Fprintf(e.stdout, "evidence signing key %s\n  fingerprint %s\n  public key  %s\n", path, casebundle.Fingerprint(pub), casebundle.EncodePublicKey(pub))
	return nil
}
