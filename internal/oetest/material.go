package oetest

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oe-agent/oe-agent/dnskeys/dnskeystest"
)

// Key material and the signed tree are the slow part of a world (about
// fifteen runs of dnssec-keygen and dnssec-signzone: tens of seconds in
// the TCG guest), and they depend only on the Options. So worlds built in
// one test process with the same Options share them: the host keys, key
// files and signed zone files are made once, in a process-wide directory,
// and only read afterwards. Options.Records, Options.Mutate and
// Options.FreshKeys opt out.

// material is a world's keys and signed tree.
type material struct {
	hostKeys map[string]*HostKey // by host name
	keyFiles map[string]string
	addrKeys map[netip.Addr]*HostKey // every address with an IPSECKEY
	tree     *dnskeystest.Tree
}

type materialKey struct {
	crowd            int
	crowd6, distinct bool
	ttl              int
}

type materialEntry struct {
	done chan struct{}
	m    *material // nil if the build failed
}

var shared struct {
	mu      sync.Mutex
	dir     string
	entries map[materialKey]*materialEntry
}

// sharedDir is the process-wide directory of cached material.
func sharedDir(t testing.TB) string {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir == "" {
		dir, err := os.MkdirTemp("", "oetest-shared-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
	}
	return shared.dir
}

// RemoveShared deletes the key material shared by this process's worlds.
// Call it from TestMain after m.Run in packages that build worlds;
// without it a few kilobytes stay under $TMPDIR (the guest's /tmp is a
// tmpfs that disappears anyway).
func RemoveShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
		shared.dir = ""
		shared.entries = nil
	}
}

// material returns the world's keys and tree, from the process cache when
// the options allow.
func (w *World) material(t testing.TB) *material {
	t.Helper()
	o := w.Opts
	if o.Records != nil || o.Mutate != nil || o.FreshKeys {
		return w.makeMaterial(t, t.TempDir())
	}
	k := materialKey{crowd: o.Crowd, crowd6: o.CrowdIPv6, distinct: o.CrowdDistinctKeys, ttl: o.KeyTTL}
	shared.mu.Lock()
	if shared.entries == nil {
		shared.entries = map[materialKey]*materialEntry{}
	}
	e, ok := shared.entries[k]
	if !ok {
		e = &materialEntry{done: make(chan struct{})}
		shared.entries[k] = e
	}
	shared.mu.Unlock()
	if ok {
		<-e.done
		if e.m == nil {
			t.Fatalf("oetest: building the shared keys and tree failed in another test (see its log)")
		}
		return e.m
	}
	dir := sharedDir(t)
	defer func() {
		if e.m == nil { // t.Fatal in the build: let the next caller retry
			shared.mu.Lock()
			delete(shared.entries, k)
			shared.mu.Unlock()
		}
		close(e.done)
	}()
	sub, err := os.MkdirTemp(dir, "world-")
	if err != nil {
		t.Fatal(err)
	}
	e.m = w.makeMaterial(t, sub)
	return e.m
}

// makeMaterial generates the keys and signs the tree, all under dir.
func (w *World) makeMaterial(t testing.TB, dir string) *material {
	t.Helper()
	m := &material{hostKeys: map[string]*HostKey{}, keyFiles: map[string]string{}, addrKeys: map[netip.Addr]*HostKey{}}
	for _, h := range w.Hosts() {
		h.Key = NewHostKey(t)
		h.KeyFile = filepath.Join(dir, h.Name+".pem")
		h.Key.WriteFile(t, h.KeyFile)
		m.hostKeys[h.Name], m.keyFiles[h.Name] = h.Key, h.KeyFile
	}
	w.Keys = map[netip.Addr]*HostKey{}
	for _, h := range []*Host{w.West, w.East, w.Bogus} {
		for _, a := range h.Addrs() {
			w.Keys[a] = h.Key
		}
	}
	if w.Crowd != nil {
		for _, a := range w.Crowd.Addrs() {
			k := w.Crowd.Key
			if w.Opts.CrowdDistinctKeys {
				k = NewHostKey(t)
			}
			w.Keys[a] = k
		}
	}
	for a, k := range w.Keys {
		m.addrKeys[a] = k
	}
	m.tree = w.buildTree(t, filepath.Join(dir, "tree"))
	return m
}
