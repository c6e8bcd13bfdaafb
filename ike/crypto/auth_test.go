package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

func TestSignedOctets(t *testing.T) {
	p, _ := NewPRF(PRFHMACSHA2_256)
	skpi := Key(bytes.Repeat([]byte{0x99}, 32))
	msg1 := []byte("IKE_SA_INIT request as sent")
	nr := bytes.Repeat([]byte{0x4e}, 32)
	idBody := []byte{1, 0, 0, 0, 192, 0, 2, 1} // ID_IPV4_ADDR 192.0.2.1
	got := SignedOctets(p, skpi, msg1, nr, idBody)
	want := append(append(append([]byte{}, msg1...), nr...), refHMAC(sha256.New, skpi, idBody)...)
	if !bytes.Equal(got, want) {
		t.Errorf("SignedOctets = %x, want RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)", got)
	}
}

// TestSharedKeyAuth checks AUTH = prf(prf(Shared Secret, "Key Pad for
// IKEv2"), <SignedOctets>) against crypto/hmac, and its negative cases.
func TestSharedKeyAuth(t *testing.T) {
	p, _ := NewPRF(PRFHMACSHA2_256)
	secret := Key("correct horse battery staple")
	octets := []byte("signed octets")
	auth := SharedKeyAuth(p, secret, octets)
	want := refHMAC(sha256.New, refHMAC(sha256.New, secret, []byte("Key Pad for IKEv2")), octets)
	if !bytes.Equal(auth, want) {
		t.Fatalf("AUTH = %x, want %x", auth, want)
	}
	if err := VerifySharedKeyAuth(p, secret, octets, auth); err != nil {
		t.Errorf("own AUTH rejected: %v", err)
	}
	if err := VerifySharedKeyAuth(p, Key("wrong secret"), octets, auth); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong secret: err = %v", err)
	}
	if err := VerifySharedKeyAuth(p, secret, []byte("signed octetz"), auth); !errors.Is(err, ErrAuthentication) {
		t.Errorf("tampered octets: err = %v", err)
	}
	if err := VerifySharedKeyAuth(p, secret, octets, auth[:len(auth)-1]); !errors.Is(err, ErrAuthentication) {
		t.Errorf("truncated AUTH: err = %v", err)
	}
}

// TestNullAuth checks RFC 7619: the PSK computation keyed with SK_pi or
// SK_pr, so the initiator's AUTH does not verify under SK_pr.
func TestNullAuth(t *testing.T) {
	p, _ := NewPRF(PRFHMACSHA2_384)
	skpi, skpr := Key(bytes.Repeat([]byte{1}, 48)), Key(bytes.Repeat([]byte{2}, 48))
	octets := []byte("InitiatorSignedOctets")
	auth := NullAuth(p, skpi, octets)
	if !bytes.Equal(auth, SharedKeyAuth(p, skpi, octets)) {
		t.Errorf("NULL AUTH differs from the shared key computation with SK_pi")
	}
	if err := VerifyNullAuth(p, skpi, octets, auth); err != nil {
		t.Errorf("own NULL AUTH rejected: %v", err)
	}
	if err := VerifyNullAuth(p, skpr, octets, auth); !errors.Is(err, ErrAuthentication) {
		t.Errorf("NULL AUTH verified with the wrong SK_p: %v", err)
	}
	if err := VerifyNullAuth(p, skpi, []byte("ResponderSignedOctets"), auth); !errors.Is(err, ErrAuthentication) {
		t.Errorf("NULL AUTH verified over other octets: %v", err)
	}
}

type sigCase struct {
	method AuthMethod
	scheme SignatureScheme
	key    crypto.Signer
	other  crypto.Signer // a different key of the same type
}

func (c sigCase) String() string {
	return fmt.Sprintf("%v/%v/%T", c.method, c.scheme, c.key.Public())
}

func signatureCases(t *testing.T) []sigCase {
	rsa1 := testRSAKey(t)
	rsa2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384a, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384b, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, eda, _ := ed25519.GenerateKey(rand.Reader)
	_, edb, _ := ed25519.GenerateKey(rand.Reader)
	return []sigCase{
		{AuthDigitalSignature, SchemeRSAPKCS1SHA256, rsa1, rsa2},
		{AuthDigitalSignature, SchemeRSAPKCS1SHA384, rsa1, rsa2},
		{AuthDigitalSignature, SchemeRSAPKCS1SHA512, rsa1, rsa2},
		{AuthDigitalSignature, SchemeRSAPSSSHA256, rsa1, rsa2},
		{AuthDigitalSignature, SchemeRSAPSSSHA384, rsa1, rsa2},
		{AuthDigitalSignature, SchemeRSAPSSSHA512, rsa1, rsa2},
		{AuthDigitalSignature, SchemeECDSASHA256, p256a, p256b},
		{AuthDigitalSignature, SchemeECDSASHA384, p384a, p384b},
		{AuthDigitalSignature, SchemeECDSASHA512, p256a, p256b},
		{AuthDigitalSignature, SchemeEd25519, eda, edb},
		{AuthRSASig, 0, rsa1, rsa2},
		{AuthECDSASHA256P256, 0, p256a, p256b},
		{AuthECDSASHA384P384, 0, p384a, p384b},
	}
}

// TestSignVerify runs every method and key type: round trip, the other
// key, tampered signed octets, and a tampered signature.
func TestSignVerify(t *testing.T) {
	octets := []byte("RealMessage | Nonce | MACedID")
	for _, c := range signatureCases(t) {
		auth, err := Sign(c.method, c.scheme, c.key, octets, rand.Reader)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if err := Verify(c.method, c.key.Public(), octets, auth); err != nil {
			t.Errorf("%v: own signature rejected: %v", c, err)
		}
		if err := Verify(c.method, c.other.Public(), octets, auth); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%v: verified with another key: %v", c, err)
		}
		tampered := bytes.Clone(octets)
		tampered[3] ^= 1
		if err := Verify(c.method, c.key.Public(), tampered, auth); !errors.Is(err, ErrAuthentication) {
			t.Errorf("%v: verified over tampered octets: %v", c, err)
		}
		bad := bytes.Clone(auth)
		bad[len(bad)-1] ^= 1
		if err := Verify(c.method, c.key.Public(), octets, bad); err == nil {
			t.Errorf("%v: tampered signature accepted", c)
		}
		if c.method == AuthDigitalSignature {
			algID, _, _ := ParseSignatureAuthData(auth)
			if !bytes.Equal(algID, c.scheme.AlgorithmIdentifier()) {
				t.Errorf("%v: AUTH data carries AlgorithmIdentifier %x", c, algID)
			}
		}
	}
}

// TestRSASigIsSHA1 pins method 1 to PKCS#1 v1.5 over SHA-1, the hash
// libreswan and strongSwan use for it.
func TestRSASigIsSHA1(t *testing.T) {
	key := testRSAKey(t)
	octets := []byte("octets")
	auth, err := Sign(AuthRSASig, 0, key, octets, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, digest(crypto.SHA1, octets), auth); err != nil {
		t.Errorf("method 1 signature is not PKCS#1 v1.5 SHA-1: %v", err)
	}
}

func TestSignatureKeyMismatch(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaK := testRSAKey(t)
	if _, err := Sign(AuthDigitalSignature, SchemeRSAPSSSHA256, ed, []byte("x"), rand.Reader); err == nil {
		t.Errorf("RSA scheme signed with an Ed25519 key")
	}
	if _, err := Sign(AuthECDSASHA384P384, 0, p256, []byte("x"), rand.Reader); err == nil {
		t.Errorf("method 10 signed with a P-256 key")
	}
	// An Ed25519 AUTH presented for an RSA key must fail, not panic.
	auth, _ := Sign(AuthDigitalSignature, SchemeEd25519, ed, []byte("x"), rand.Reader)
	if err := Verify(AuthDigitalSignature, &rsaK.PublicKey, []byte("x"), auth); err == nil {
		t.Errorf("Ed25519 signature accepted for an RSA key")
	}
	if err := Verify(AuthSharedKey, &rsaK.PublicKey, []byte("x"), auth); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Verify with method 2: %v", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := Sign(AuthDigitalSignature, SchemeRSAPSSSHA256, small, []byte("x"), rand.Reader); !errors.Is(err, ErrUnsupported) {
		t.Errorf("RSA-1024 signing: %v, want ErrUnsupported", err)
	}
}

func TestChooseSignature(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaPub := testRSAKey(t).Public()
	all := []HashAlgorithm{HashSHA2_256, HashSHA2_384, HashSHA2_512, HashIdentity}
	cases := []struct {
		pub    crypto.PublicKey
		peer   []HashAlgorithm
		method AuthMethod
		scheme SignatureScheme
		ok     bool
	}{
		{rsaPub, all, AuthDigitalSignature, SchemeRSAPSSSHA256, true},
		{rsaPub, []HashAlgorithm{HashSHA2_512}, AuthDigitalSignature, SchemeRSAPSSSHA512, true},
		{rsaPub, nil, AuthRSASig, 0, true},
		{rsaPub, []HashAlgorithm{HashSHA1}, 0, 0, false},
		{p256.Public(), all, AuthDigitalSignature, SchemeECDSASHA256, true},
		{p384.Public(), all, AuthDigitalSignature, SchemeECDSASHA384, true},
		{p384.Public(), nil, AuthECDSASHA384P384, 0, true},
		{ed.Public(), all, AuthDigitalSignature, SchemeEd25519, true},
		{ed.Public(), []HashAlgorithm{HashSHA2_256}, 0, 0, false},
		{ed.Public(), nil, 0, 0, false},
	}
	for i, tc := range cases {
		m, s, err := ChooseSignature(tc.pub, tc.peer)
		if (err == nil) != tc.ok || m != tc.method || s != tc.scheme {
			t.Errorf("case %d (%T, %v): got %v %v %v", i, tc.pub, tc.peer, m, s, err)
		}
	}
}

// TestIKEAuthExchange runs the key schedule and authentication of an
// IKE_SA_INIT / IKE_AUTH pair as both ends would: DH, SKEYSEED, SK_*,
// SignedOctets, then an Ed25519 signature one way and NULL auth the other.
func TestIKEAuthExchange(t *testing.T) {
	suite := Suite{Encr: EncrAESGCM16, EncrKeyBits: 256, PRF: PRFHMACSHA2_256}
	dhI, _ := GenerateDH(GroupCurve25519, rand.Reader)
	dhR, _ := GenerateDH(GroupCurve25519, rand.Reader)
	ni, nr := bytes.Repeat([]byte{0xa}, 32), bytes.Repeat([]byte{0xb}, 32)
	derive := func(dh *DHKey, peer []byte) *IKEKeys {
		z, err := dh.SharedSecret(peer)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := NewPRF(suite.PRF)
		seed, _ := SKEYSEED(p, ni, nr, z)
		k, err := DeriveIKEKeys(suite, seed, ni, nr, 0xaaaa, 0xbbbb)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ki, kr := derive(dhI, dhR.PublicValue()), derive(dhR, dhI.PublicValue())
	msg1, msg2 := []byte("IKE_SA_INIT request"), []byte("IKE_SA_INIT response")
	idI := []byte{2, 0, 0, 0, 'i', '.', 'e', 'x'}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)

	// Initiator signs; responder verifies with the key it found in DNS.
	authI, err := Sign(AuthDigitalSignature, SchemeEd25519, priv, SignedOctets(ki.PRF, ki.PI, msg1, nr, idI), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dnsKey, _ := ParseIPSECKEY(IPSECKEYAlgEd25519, pub)
	if err := Verify(AuthDigitalSignature, dnsKey, SignedOctets(kr.PRF, kr.PI, msg1, nr, idI), authI); err != nil {
		t.Errorf("responder rejects the initiator's AUTH: %v", err)
	}
	// Responder authenticates with NULL; initiator verifies with SK_pr.
	idR := []byte{13, 0, 0, 0}
	authR := NullAuth(kr.PRF, kr.PR, SignedOctets(kr.PRF, kr.PR, msg2, ni, idR))
	if err := VerifyNullAuth(ki.PRF, ki.PR, SignedOctets(ki.PRF, ki.PR, msg2, ni, idR), authR); err != nil {
		t.Errorf("initiator rejects the responder's NULL AUTH: %v", err)
	}
	// A man in the middle with other keys cannot produce it.
	if err := VerifyNullAuth(ki.PRF, ki.PI, SignedOctets(ki.PRF, ki.PR, msg2, ni, idR), authR); err == nil {
		t.Errorf("NULL AUTH verified with SK_pi")
	}
}

// TestRFC8032Ed25519 signs through the RFC 7427 path with the keys of RFC
// 8032 §7.1 TEST 1 (empty message) and TEST 2 (one octet 0x72) and
// compares the signatures, which EdDSA makes deterministic.
func TestRFC8032Ed25519(t *testing.T) {
	for _, tc := range []struct{ name, secret, public, msg, sig string }{
		{"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
			"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	} {
		priv := ed25519.NewKeyFromSeed(unhex(t, tc.secret))
		pub, err := ParseRawEd25519(unhex(t, tc.public))
		if err != nil || !pub.Equal(priv.Public()) {
			t.Fatalf("%s: public key differs: %v", tc.name, err)
		}
		auth, err := Sign(AuthDigitalSignature, SchemeEd25519, priv, unhex(t, tc.msg), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, sig, _ := ParseSignatureAuthData(auth)
		if !bytes.Equal(sig, unhex(t, tc.sig)) {
			t.Errorf("%s: signature %x", tc.name, sig)
		}
		if err := Verify(AuthDigitalSignature, pub, unhex(t, tc.msg), auth); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
