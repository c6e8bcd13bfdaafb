package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
)

// HostKey is this host's private key (/etc/oe-agent/hostkey.pem), whose
// public half is published as the host's IPSECKEY (RFC 4025). Its printing
// methods show the key type and file, never the key.
type HostKey struct {
	Path   string
	Signer crypto.Signer
}

func (k HostKey) String() string {
	if k.Signer == nil {
		return "<no host key>"
	}
	return fmt.Sprintf("%s host key from %s", keyTypeName(k.Signer.Public()), k.Path)
}

func (k HostKey) GoString() string { return "config.HostKey{" + k.String() + "}" }

// Format prints the String form for every verb.
func (k HostKey) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// AuthMethod is the IKEv2 authentication method the key signs with.
func (k *HostKey) AuthMethod() AuthMethod {
	switch k.Signer.Public().(type) {
	case ed25519.PublicKey:
		return AuthEdDSA
	case *rsa.PublicKey:
		return AuthRSASig
	}
	return AuthECDSA
}

// LoadHostKey reads the host key: an unencrypted PEM private key, Ed25519
// or RSA (at least 2048 bits) as the OE design publishes in IPSECKEY
// (ECDSA P-256/P-384 is accepted too), in a file only its owner may
// access.
func LoadHostKey(fsys fs.FS, name string) (*HostKey, error) {
	data, err := readSecretFile(fsys, name)
	if err != nil {
		var de interface{ detail() string } // *ModeError, *OwnerError
		if errors.As(err, &de) {
			return nil, fmt.Errorf("config: host key: %w", err)
		}
		return nil, &causeError{msg: "config: host key " + name + ": " + errText(err), err: err}
	}
	s, err := parsePEMPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("config: host key %s: %w", name, err)
	}
	return &HostKey{Path: name, Signer: s}, nil
}

// causeError is an error with its own text that still unwraps to its cause
// (so errors.Is(err, fs.ErrNotExist) works without repeating the cause's
// text).
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }
