package crypto

import (
	"bufio"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestOpenSSLSignatures verifies signatures that OpenSSL 3.0 made
// (testdata/openssl-signatures.txt) with each RFC 7427 scheme and with
// method 1, as an independent implementation of PKCS#1 v1.5, RSASSA-PSS
// with salt = hash length and MGF1 over the same hash (the RFC 8247
// parameters), DER ECDSA and Ed25519.
func TestOpenSSLSignatures(t *testing.T) {
	f, err := os.Open("testdata/openssl-signatures.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		name string
		sig  []byte
		pem  strings.Builder
	}
	var msg []byte
	var entries []*entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "message "):
			msg = []byte(strings.TrimPrefix(line, "message "))
		case strings.HasPrefix(line, "sig "):
			fields := strings.Fields(line)
			sig, err := hex.DecodeString(fields[2])
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, &entry{name: fields[1], sig: sig})
		default:
			entries[len(entries)-1].pem.WriteString(line + "\n")
		}
	}
	schemeByName := map[string]SignatureScheme{
		"rsa-pss-sha256": SchemeRSAPSSSHA256, "rsa-pss-sha512": SchemeRSAPSSSHA512,
		"rsa-pkcs1-sha384": SchemeRSAPKCS1SHA384, "ecdsa-sha384": SchemeECDSASHA384, "ed25519": SchemeEd25519,
	}
	if len(entries) != 6 {
		t.Fatalf("%d signatures in the fixture, want 6", len(entries))
	}
	for _, e := range entries {
		pub, err := ParsePublicKeyPEM([]byte(e.pem.String()))
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		method, auth := AuthRSASig, e.sig
		if s, ok := schemeByName[e.name]; ok {
			method, auth = AuthDigitalSignature, appendSignatureAuthData(nil, s.AlgorithmIdentifier(), e.sig)
		}
		if err := Verify(method, pub, msg, auth); err != nil {
			t.Errorf("%s: OpenSSL signature rejected: %v", e.name, err)
		}
		if err := Verify(method, pub, append(msg, '.'), auth); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%s: verified over other octets: %v", e.name, err)
		}
	}
}
