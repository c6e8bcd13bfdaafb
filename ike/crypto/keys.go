package crypto

import (
	"encoding/binary"
	"fmt"
)

// Nonce length limits of RFC 7296 §2.10 / §3.9.
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// checkNonce enforces RFC 7296 §2.10: a nonce is 16 to 256 octets and at
// least half the PRF key size.
func checkNonce(p PRF, who string, n []byte) error {
	if len(n) < MinNonceLen || len(n) > MaxNonceLen || 2*len(n) < p.Size() {
		return fmt.Errorf("crypto: %s nonce of %d octets is not allowed with %v (RFC 7296 §2.10)", who, len(n), p)
	}
	return nil
}

// SKEYSEED returns prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14).
// gir is the Diffie-Hellman shared secret as a DH method returns it.
func SKEYSEED(p PRF, ni, nr, gir []byte) (Key, error) {
	if err := checkNonce(p, "initiator", ni); err != nil {
		return nil, err
	}
	if err := checkNonce(p, "responder", nr); err != nil {
		return nil, err
	}
	key := make([]byte, 0, len(ni)+len(nr))
	key = append(append(key, ni...), nr...)
	return Key(p.Compute(key, gir)), nil
}

// RekeySKEYSEED returns prf(SK_d (old), g^ir (new) | Ni | Nr) for an IKE
// SA rekeyed with CREATE_CHILD_SA (RFC 7296 §2.18). oldPRF and oldSKd are
// the old IKE SA's PRF and SK_d: "it is the old IKE SA's PRF that is used
// to generate SKEYSEED". Ni and Nr are the nonces of the rekey exchange.
func RekeySKEYSEED(oldPRF PRF, oldSKd Key, gir, ni, nr []byte) (Key, error) {
	if len(oldSKd) == 0 {
		return nil, fmt.Errorf("crypto: rekey without the old SK_d")
	}
	if err := checkNonce(oldPRF, "initiator", ni); err != nil {
		return nil, err
	}
	if err := checkNonce(oldPRF, "responder", nr); err != nil {
		return nil, err
	}
	return Key(oldPRF.Compute(oldSKd, gir, ni, nr)), nil
}

// IKEKeys are the seven keys of an IKE SA (RFC 7296 §2.14) and the PRF
// they go with. Printing an IKEKeys shows only key lengths.
type IKEKeys struct {
	Suite  Suite
	PRF    PRF
	D      Key // SK_d: derives Child SA and rekeyed IKE SA keys
	AI, AR Key // SK_ai, SK_ar: integrity, initiator and responder; empty with an AEAD
	EI, ER Key // SK_ei, SK_er: encryption (with salt for AEADs)
	PI, PR Key // SK_pi, SK_pr: AUTH payload MACs
}

// DeriveIKEKeys expands SKEYSEED into the SK_* keys (RFC 7296 §2.14):
//
//	{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//	    = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
//
// s.PRF is the PRF of the IKE SA being created (the new one on a rekey).
// spiI and spiR are the IKE SPIs as they appear in the header (big endian).
func DeriveIKEKeys(s Suite, skeyseed Key, ni, nr []byte, spiI, spiR uint64) (*IKEKeys, error) {
	p, err := NewPRF(s.PRF)
	if err != nil {
		return nil, err
	}
	encrLen, integLen, err := s.keyLens()
	if err != nil {
		return nil, err
	}
	if err := checkNonce(p, "initiator", ni); err != nil {
		return nil, err
	}
	if err := checkNonce(p, "responder", nr); err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(ni)+len(nr)+16)
	seed = append(append(seed, ni...), nr...)
	seed = binary.BigEndian.AppendUint64(seed, spiI)
	seed = binary.BigEndian.AppendUint64(seed, spiR)
	n := 3*p.Size() + 2*integLen + 2*encrLen
	km, err := p.Expand(skeyseed, seed, n)
	if err != nil {
		return nil, err
	}
	k := &IKEKeys{Suite: s, PRF: p}
	next := func(l int) Key {
		out := km[:l:l]
		km = km[l:]
		return out
	}
	k.D = next(p.Size())
	k.AI, k.AR = next(integLen), next(integLen)
	k.EI, k.ER = next(encrLen), next(encrLen)
	k.PI, k.PR = next(p.Size()), next(p.Size())
	return k, nil
}

// Ciphers returns the SK payload ciphers of this IKE SA for one end:
// outbound uses SK_ei/SK_ai on the original initiator and SK_er/SK_ar on
// the original responder (RFC 7296 §2.14), and inbound the other pair.
// initiator is the role in the IKE_SA_INIT that created the SA (after an
// IKE rekey, the role in the rekey exchange).
func (k *IKEKeys) Ciphers(initiator bool, cfg Config) (outbound, inbound Cipher, err error) {
	ei, ai, er, ar := k.EI, k.AI, k.ER, k.AR
	if !initiator {
		ei, ai, er, ar = er, ar, ei, ai
	}
	if outbound, err = NewCipher(k.Suite, ei, ai, cfg); err != nil {
		return nil, nil, err
	}
	if inbound, err = NewCipher(k.Suite, er, ar, cfg); err != nil {
		return nil, nil, err
	}
	return outbound, inbound, nil
}

// Wipe zeroes every key.
func (k *IKEKeys) Wipe() {
	for _, key := range []Key{k.D, k.AI, k.AR, k.EI, k.ER, k.PI, k.PR} {
		key.Wipe()
	}
}

// DirKeys are the ESP keys for one direction of a Child SA, in the layout
// the Linux XFRM layer takes: Encr is the cipher key with the 4-octet salt
// appended for AES-GCM (RFC 4106 §8.1) and ChaCha20-Poly1305 (RFC 7634 §2);
// Integ is empty for AEADs.
type DirKeys struct {
	Encr  Key
	Integ Key
}

// ChildKeys are the keys of one Child SA pair (RFC 7296 §2.17).
// "Initiator" means the initiator of the exchange that created the Child SA
// (IKE_AUTH or CREATE_CHILD_SA), not of the IKE SA.
type ChildKeys struct {
	Suite Suite
	// InitiatorToResponder protects traffic sent by the exchange initiator:
	// its outbound SA, the responder's inbound SA.
	InitiatorToResponder DirKeys
	// ResponderToInitiator protects traffic the other way.
	ResponderToInitiator DirKeys
}

// Directions returns the keys for the local outbound and inbound SAs of the
// end that was initiator (or not) of the creating exchange.
func (c *ChildKeys) Directions(initiator bool) (outbound, inbound DirKeys) {
	if initiator {
		return c.InitiatorToResponder, c.ResponderToInitiator
	}
	return c.ResponderToInitiator, c.InitiatorToResponder
}

// DeriveChildKeys computes Child SA KEYMAT (RFC 7296 §2.17):
//
//	KEYMAT = prf+(SK_d, Ni | Nr)                  (gir == nil: no PFS)
//	KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr)     (with PFS)
//
// and splits it: all keys from initiator to responder first, encryption key
// before integrity key, then the responder to initiator keys. p and skd
// are the IKE SA's PRF and SK_d; s names the ESP transforms (s.PRF is
// ignored). ENCR_NULL is refused unless cfg.AllowNull.
func DeriveChildKeys(p PRF, skd Key, s Suite, gir, ni, nr []byte, cfg Config) (*ChildKeys, error) {
	if len(skd) == 0 {
		return nil, fmt.Errorf("crypto: Child SA KEYMAT without SK_d")
	}
	encrLen, integLen, err := s.keyLens()
	if err != nil {
		return nil, err
	}
	if s.Encr == EncrNull && !cfg.AllowNull {
		return nil, errNullRefused
	}
	if err := checkNonce(p, "initiator", ni); err != nil {
		return nil, err
	}
	if err := checkNonce(p, "responder", nr); err != nil {
		return nil, err
	}
	seed := make([]byte, 0, len(gir)+len(ni)+len(nr))
	seed = append(append(append(seed, gir...), ni...), nr...)
	km, err := p.Expand(skd, seed, 2*(encrLen+integLen))
	if err != nil {
		return nil, err
	}
	next := func(l int) Key {
		if l == 0 {
			return nil
		}
		out := km[:l:l]
		km = km[l:]
		return out
	}
	c := &ChildKeys{Suite: s}
	c.InitiatorToResponder.Encr = next(encrLen)
	c.InitiatorToResponder.Integ = next(integLen)
	c.ResponderToInitiator.Encr = next(encrLen)
	c.ResponderToInitiator.Integ = next(integLen)
	return c, nil
}
