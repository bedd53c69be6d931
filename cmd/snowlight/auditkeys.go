package main

import (
	"context"
	"flag"
	"os"

	"snowlight/audit"
	"snowlight/config"
	"snowlight/store"
)

// auditKeyEnv is where the commands look for the audit key unless --audit-key says otherwise; serve
// reads it from the configuration (audit.key), which may name the same variable.
const auditKeyEnv = "SNOWLIGHT_AUDIT_KEY"

// auditFlags are the key flags of every command that writes or verifies the audit log. The zero value
// has no keys.
type auditFlags struct{ key, previous *string }

func addAuditFlags(fs *flag.FlagSet) auditFlags {
	return auditFlags{
		key:      fs.String("audit-key", "env:"+auditKeyEnv, "the audit key (audit.key of the configuration) as env:NAME or file:PATH; none when the default variable is unset"),
		previous: fs.String("audit-previous-keys", "", "the keys used before it (audit.previous_keys), oldest first, as comma-separated env:NAME or file:PATH"),
	}
}

func (f auditFlags) keyring() (audit.Keyring, error) {
	if f.key == nil {
		return audit.Keyring{}, nil
	}
	current := ""
	if *f.key != "env:"+auditKeyEnv || os.Getenv(auditKeyEnv) != "" {
		s, err := config.ResolveSecretRef(*f.key, os.Getenv)
		if err != nil {
			return audit.Keyring{}, err
		}
		current = s.Reveal()
	}
	var previous []string
	for _, ref := range splitList(*f.previous) {
		s, err := config.ResolveSecretRef(ref, os.Getenv)
		if err != nil {
			return audit.Keyring{}, err
		}
		previous = append(previous, s.Reveal())
	}
	return audit.NewKeyring(current, previous...)
}

// writer opens the audit log for a command about to act and record it: when the chain needs a key the
// flags do not give, it fails now, before the action, not after it.
func (f auditFlags) writer(ctx context.Context, db *store.DB) (*audit.Log, error) {
	keys, err := f.keyring()
	if err != nil {
		return nil, err
	}
	l := audit.NewLog(db, audit.Options{Keys: keys})
	if err := l.CheckKeys(ctx); err != nil {
		return nil, err
	}
	return l, nil
}
