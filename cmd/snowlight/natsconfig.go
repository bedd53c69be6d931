package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"

	"snowlight/bus"
	"snowlight/bus/natsconf"
)

// runNATSConfig writes what a distributed deployment's NATS needs: one nkey seed per user (the center
// and each edge: each process gets only its own) and the nats-server configuration granting each
// edge only its own subjects (bus/natsconf, docs/SECURITY.md). Seeds already in the directory are
// kept, so adding an edge does not change the others' credentials.
func runNATSConfig(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "nats-config", "--dir DIR --edge ID [--edge ID ...] [--servers 1|3] [--host H] [--port P] [--store DIR]")
	dir := fs.String("dir", "", "where the seeds and server configurations are written (mode 0600)")
	var edges repeated
	fs.Var(&edges, "edge", "an edge id (repeat for each edge)")
	servers := fs.Int("servers", 1, "nats-servers: 1, or 3 for a JetStream cluster that survives the loss of one")
	host := fs.String("host", "127.0.0.1", "address the servers listen on")
	port := fs.Int("port", 4222, "client port of the first server (the others count up); routes use port+100, monitoring port+4000")
	store := fs.String("store", "", "JetStream storage directory (a directory per server under it) [DIR/jetstream]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || len(edges) == 0 || fs.NArg() > 0 || (*servers != 1 && *servers != 3) || *port <= 0 || *port+4000+*servers > 65535 {
		fs.Usage()
		return errUsage
	}
	if *store == "" {
		*store = filepath.Join(*dir, "jetstream")
	}
	abs, err := filepath.Abs(*store)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	center, err := seed(*dir, natsconfCenter)
	if err != nil {
		return err
	}
	var ids []natsconf.Identity
	for _, id := range edges {
		if err := bus.CheckID("edge", id); err != nil {
			return err
		}
		cr, err := seed(*dir, id)
		if err != nil {
			return err
		}
		ids = append(ids, cr.Identity)
	}
	password, err := natsconf.NewRoutePassword()
	if err != nil {
		return err
	}
	addr := func(p int) string { return *host + ":" + strconv.Itoa(p) }
	var urls []string
	for i := range *servers {
		name := "n" + strconv.Itoa(i+1)
		conf := natsconf.Server{Name: name, Listen: addr(*port + i), Monitor: "127.0.0.1:" + strconv.Itoa(*port+4000+i),
			StoreDir: filepath.Join(abs, name), Center: center.Identity, Edges: ids}
		if *servers > 1 {
			var routes []string
			for j := range *servers {
				if j != i {
					routes = append(routes, addr(*port+100+j))
				}
			}
			conf.Cluster = &natsconf.Cluster{Name: "snowlight", Listen: addr(*port + 100 + i), Routes: routes, User: "route", Password: password}
		}
		var b bytes.Buffer
		if err := conf.Write(&b); err != nil {
			return err
		}
		path := filepath.Join(*dir, name+".conf")
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "nats-server -c %s\n", path)
		urls = append(urls, "nats://"+addr(*port+i))
	}
	fmt.Fprintf(e.stdout, "\nIn each process's configuration:\n  nats: {urls: [%s], replicas: %d, seed_file: ...}\n",
		strings.Join(urls, ", "), *servers)
	fmt.Fprintf(e.stdout, "seed files (give each process only its own): %s\n", filepath.Join(*dir, "*.nk"))
	return nil
}

// natsconfCenter names the center's seed file.
const natsconfCenter = "center"

// seed reads name's nkey seed from DIR/name.nk, or makes one and writes it readable by its owner only.
func seed(dir, name string) (natsconf.Credentials, error) {
	path := filepath.Join(dir, name+".nk")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		cr, err := natsconf.NewCredentials(name)
		if err != nil {
			return cr, err
		}
		if err := os.WriteFile(path, append(cr.Seed, '\n'), 0o600); err != nil {
			return cr, fmt.Errorf("write seed of %s: %w", name, err)
		}
		return cr, nil
	}
	if err != nil {
		return natsconf.Credentials{}, fmt.Errorf("seed of %s: %w", name, err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(b))
	if err != nil {
		return natsconf.Credentials{}, fmt.Errorf("seed of %s in %s: %w", name, path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return natsconf.Credentials{}, fmt.Errorf("seed of %s in %s: %w", name, path, err)
	}
	return natsconf.Credentials{Identity: natsconf.Identity{Name: name, PublicKey: pub}, Seed: bytes.TrimSpace(b)}, nil
}
