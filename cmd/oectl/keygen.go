package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// defaultHostKey is where oe-agentd reads its host key.
const defaultHostKey = "/etc/oe-agent/hostkey.pem"

// cmdKeygen writes a new host key as PKCS#8 PEM with mode 0600. It never
// overwrites an existing key unless --force is given: replacing a published
// key breaks every peer that validated the old one from DNS.
func cmdKeygen(args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	typ := fs.String("type", "ed25519", "key type: ed25519 or rsa")
	bits := fs.Int("bits", 3072, "RSA modulus size (2048-8192)")
	out := fs.String("out", defaultHostKey, "file to write (- for standard output)")
	force := fs.Bool("force", false, "replace an existing key")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return &usageError{"takes only flags"}
	}
	der, err := newKey(*typ, *bits)
	if err != nil {
		return err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if *out == "-" {
		_, err := Stdout.Write(block)
		return err
	}
	return writeKeyFile(*out, block, *force)
}

func newKey(typ string, bits int) ([]byte, error) {
	var key any
	switch typ {
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		key = priv
	case "rsa":
		if bits < 2048 || bits > 8192 {
			return nil, &usageError{fmt.Sprintf("--bits %d outside 2048..8192", bits)}
		}
		priv, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, err
		}
		key = priv
	default:
		return nil, &usageError{fmt.Sprintf("unknown --type %q (want ed25519 or rsa)", typ)}
	}
	return x509.MarshalPKCS8PrivateKey(key)
}

func writeKeyFile(path string, block []byte, force bool) error {
	if _, err := os.Stat(path); err == nil && !force {
		return fmt.Errorf("%s already exists; it may be published in DNS, so it is kept (use --force to replace it)", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hostkey-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(block); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Without --force, link(2) publishes the key only if no file appeared
	// at path meanwhile: it fails where rename(2) would replace.
	if force {
		err = os.Rename(tmp.Name(), path)
	} else if err = os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%s already exists; it may be published in DNS, so it is kept (use --force to replace it)", path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(Stdout, "wrote %s (mode 0600); publish its IPSECKEY with: oectl showhostkey --ipseckey ADDR\n", path)
	return nil
}
