package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// TestRFC5903 runs the ECP_256 and ECP_384 examples of RFC 5903 §8: both
// ends' public values are x | y, and the shared secret is x only.
func TestRFC5903(t *testing.T) {
	cases := []struct {
		g                 Group
		i, gix, giy       string
		r, grx, gry, girx string
	}{
		{GroupECP256,
			"C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
			"DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180",
			"5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
			"C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
			"D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63",
			"56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
			"D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE"},
		{GroupECP384,
			"099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655 E35B5380 41E649EE 3FAEF896 783AB194",
			"667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6 DE3AC808 ACB4BDB4 C88732AE E95F41AA",
			"9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E EB9FCFF3 C2C947DA E69B4C63 4573A81C",
			"41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942 E0308312 916B8ED2 960E4BD5 5A7448FC",
			"E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D 0D1AC43A 0336DEF9 6FDA41D0 774A3571",
			"DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF F83FA401 42209DFF 5EAAD96D B9E6386C",
			"11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4 D6031355 69B9E9D0 9CF5D4A2 70F59746"},
	}
	for _, tc := range cases {
		ki, err := newDHKeyFromPrivate(tc.g, unhex(t, tc.i))
		if err != nil {
			t.Fatal(err)
		}
		kr, err := newDHKeyFromPrivate(tc.g, unhex(t, tc.r))
		if err != nil {
			t.Fatal(err)
		}
		gi := unhex(t, tc.gix+tc.giy)
		gr := unhex(t, tc.grx+tc.gry)
		if !bytes.Equal(ki.PublicValue(), gi) || !bytes.Equal(kr.PublicValue(), gr) {
			t.Errorf("%v: public values differ from RFC 5903 §8", tc.g)
		}
		zi, err := ki.SharedSecret(gr)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := kr.SharedSecret(gi)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, tc.girx); !bytes.Equal(zi, want) || !bytes.Equal(zr, want) {
			t.Errorf("%v: shared secret differs from g^ir x of RFC 5903 §8", tc.g)
		}
	}
}

// TestRFC7748X25519 runs the Diffie-Hellman example of RFC 7748 §6.1
// through group 31 (RFC 8031 uses X25519 unchanged).
func TestRFC7748X25519(t *testing.T) {
	alice, err := newDHKeyFromPrivate(GroupCurve25519, unhex(t, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := newDHKeyFromPrivate(GroupCurve25519, unhex(t, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"); !bytes.Equal(alice.PublicValue(), want) {
		t.Errorf("Alice's public key differs from RFC 7748 §6.1")
	}
	bobPub := unhex(t, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
	z, err := alice.SharedSecret(bobPub)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"); !bytes.Equal(z, want) {
		t.Errorf("shared secret differs from RFC 7748 §6.1")
	}
	if !bytes.Equal(bob.PublicValue(), bobPub) {
		t.Errorf("Bob's public key differs from RFC 7748 §6.1")
	}
	if zb, err := bob.SharedSecret(alice.PublicValue()); err != nil || !zb.Equal(z) {
		t.Errorf("Bob's shared secret differs: %v", err)
	}
}

// piTimes2Pow returns floor(pi * 2^bits), by Machin's formula in integer
// arithmetic, independently of the package.
func piTimes2Pow(bits uint) *big.Int {
	guard := uint(64)
	one := new(big.Int).Lsh(big.NewInt(1), bits+guard)
	arctanInv := func(x int64) *big.Int {
		bx, x2 := big.NewInt(x), big.NewInt(x*x)
		term := new(big.Int).Quo(one, bx)
		sum := new(big.Int).Set(term)
		for n, sign := int64(3), -1; term.Sign() != 0; n, sign = n+2, -sign {
			term.Quo(term, x2)
			q := new(big.Int).Quo(term, big.NewInt(n))
			if sign < 0 {
				sum.Sub(sum, q)
			} else {
				sum.Add(sum, q)
			}
		}
		return sum
	}
	pi := new(big.Int).Mul(big.NewInt(16), arctanInv(5))
	pi.Sub(pi, new(big.Int).Mul(big.NewInt(4), arctanInv(239)))
	return pi.Rsh(pi, guard)
}

// TestRFC3526Primes recomputes the MODP primes from the formulas of RFC
// 3526 §3 and §4 and checks that p and (p-1)/2 are prime and 2 generates
// the subgroup of order q used for the check 1 < y < p-1.
func TestRFC3526Primes(t *testing.T) {
	for _, tc := range []struct {
		g    Group
		n    uint
		c    int64
		hexP string
	}{{GroupMODP2048, 2048, 124476, modp2048Hex}, {GroupMODP3072, 3072, 1690314, modp3072Hex}} {
		p := new(big.Int).Lsh(big.NewInt(1), tc.n)
		p.Sub(p, new(big.Int).Lsh(big.NewInt(1), tc.n-64))
		p.Sub(p, big.NewInt(1))
		f := piTimes2Pow(tc.n - 130)
		f.Add(f, big.NewInt(tc.c))
		p.Add(p, f.Lsh(f, 64))
		if got, _ := new(big.Int).SetString(tc.hexP, 16); got.Cmp(p) != 0 {
			t.Errorf("%v: prime constant differs from the RFC 3526 formula", tc.g)
		}
		q := new(big.Int).Rsh(p, 1)
		if !p.ProbablyPrime(10) || !q.ProbablyPrime(10) {
			t.Errorf("%v: p or (p-1)/2 is not prime", tc.g)
		}
		if modpParams(tc.g).size != int(tc.n/8) || tc.g.PublicLen() != int(tc.n/8) {
			t.Errorf("%v: public length %d", tc.g, tc.g.PublicLen())
		}
	}
}

var allGroups = []Group{GroupMODP2048, GroupMODP3072, GroupECP256, GroupECP384, GroupCurve25519}

func TestDHAgreement(t *testing.T) {
	for _, g := range allGroups {
		a, err := GenerateDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b, err := GenerateDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.PublicValue()) != g.PublicLen() {
			t.Errorf("%v: public value of %d octets", g, len(a.PublicValue()))
		}
		za, err := a.SharedSecret(b.PublicValue())
		if err != nil {
			t.Fatal(err)
		}
		zb, err := b.SharedSecret(a.PublicValue())
		if err != nil {
			t.Fatal(err)
		}
		if !za.Equal(zb) || bytes.Equal(za, make([]byte, len(za))) {
			t.Errorf("%v: ends disagree", g)
		}
		wantZ := map[Group]int{GroupMODP2048: 256, GroupMODP3072: 384, GroupECP256: 32, GroupECP384: 48, GroupCurve25519: 32}[g]
		if len(za) != wantZ {
			t.Errorf("%v: shared secret of %d octets, want %d", g, len(za), wantZ)
		}
	}
}

// TestMODPDeterministic checks that MODP keys come from the injected rand.
func TestMODPDeterministic(t *testing.T) {
	a, _ := GenerateDH(GroupMODP2048, &countingReader{})
	b, _ := GenerateDH(GroupMODP2048, &countingReader{})
	if !bytes.Equal(a.PublicValue(), b.PublicValue()) {
		t.Errorf("same rand stream gave different MODP keys")
	}
	if _, err := GenerateDH(GroupMODP2048, &fixedReader{}); err == nil {
		t.Errorf("failing rand accepted")
	}
}

func TestDHInvalidPeer(t *testing.T) {
	for _, g := range allGroups {
		k, _ := GenerateDH(g, rand.Reader)
		n := g.PublicLen()
		bad := map[string][]byte{
			"empty":     nil,
			"short":     make([]byte, n-1),
			"long":      append(bytes.Clone(k.PublicValue()), 0),
			"with 0x04": append([]byte{4}, k.PublicValue()...),
		}
		switch g {
		case GroupMODP2048, GroupMODP3072:
			p := modpParams(g).p
			for name, v := range map[string]*big.Int{"0": big.NewInt(0), "1": big.NewInt(1),
				"p-1": new(big.Int).Sub(p, big.NewInt(1)), "p": p, "p+1": new(big.Int).Add(p, big.NewInt(1))} {
				bad["y="+name] = v.FillBytes(make([]byte, n))
			}
			bad["2^8n-1"] = bytes.Repeat([]byte{0xff}, n)
		case GroupECP256, GroupECP384:
			bad["zeros (infinity)"] = make([]byte, n)
			off := bytes.Clone(k.PublicValue())
			off[n-1] ^= 1 // y changed: off the curve
			bad["off curve"] = off
		case GroupCurve25519:
			bad["zero point"] = make([]byte, 32)
			one := make([]byte, 32)
			one[0] = 1
			bad["order-1 point u=1"] = one
		}
		for name, v := range bad {
			if _, err := k.SharedSecret(v); !errors.Is(err, ErrInvalidKE) {
				t.Errorf("%v peer %s: err = %v, want ErrInvalidKE", g, name, err)
			}
		}
	}
}

func TestUnsupportedGroup(t *testing.T) {
	for _, g := range []Group{0, 1, 2, 5, 21, 32} {
		_, err := GenerateDH(g, rand.Reader)
		if !errors.Is(err, ErrUnsupportedGroup) || !errors.Is(err, ErrUnsupported) || g.Supported() {
			t.Errorf("group %d: err = %v", g, err)
		}
	}
}

func TestDHKeyRedacted(t *testing.T) {
	for _, g := range allGroups {
		k, _ := GenerateDH(g, rand.Reader)
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
			s := fmt.Sprintf(f, k)
			if !strings.Contains(s, "redacted") || k.x != nil && strings.Contains(s, k.x.String()) {
				t.Errorf("%v printed with %s as %q", g, f, s)
			}
		}
	}
}
