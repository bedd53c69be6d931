package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"snowlight/models"
)

// runModels lists, verifies or downloads the neural-network weights (`make models` runs `fetch`).
func runModels(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "models", "[list|verify|fetch] [--dir DIR]")
	dir := fs.String("dir", "", "models directory (default $"+models.EnvDir+")")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up a download after this long")
	verb := "list"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		verb, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := models.ResolveDir(*dir)
	switch verb {
	case "list":
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FILE\tBYTES\tSHA256\tLICENCE\tSOURCE")
		for _, m := range models.Manifest() {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", m.File, m.Size, m.SHA256, m.Licence, m.Source)
		}
		tw.Flush()
		fmt.Fprintln(e.stdout, "\nTraining-data terms that bind use beyond the licences:")
		for _, m := range models.Manifest() {
			fmt.Fprintf(e.stdout, "  %s: %s\n", m.File, m.DataTerms)
		}
		return nil
	case "verify":
		if d == "" {
			return fmt.Errorf("no models directory: pass --dir DIR or set %s", models.EnvDir)
		}
		var errs []error
		for _, m := range models.Manifest() {
			if _, _, err := models.Load(d, m.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(e.stdout, "ok  %s\n", m.File)
		}
		return errors.Join(errs...)
	case "fetch":
		if d == "" {
			return fmt.Errorf("fetch models: pass --dir DIR (or set %s) to say where to put them", models.EnvDir)
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if err := models.Fetch(ctx, &http.Client{}, d, models.Manifest(), e.log); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "models verified in %s; use them with --models %s or %s=%s\n", d, d, models.EnvDir, d)
		return nil
	}
	fs.Usage()
	return errUsage
}
