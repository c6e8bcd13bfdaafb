package crypto

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"testing"
)

// TestRFC4231 runs the HMAC-SHA-256/384/512 test cases 1, 2 and 6 of
// RFC 4231 §4 through PRF.Compute.
func TestRFC4231(t *testing.T) {
	largeKey := bytes.Repeat([]byte{0xaa}, 131)
	cases := []struct {
		name string
		key  []byte
		data []byte
		s256 string
		s384 string
		s512 string
	}{
		{"4.2 test case 1", bytes.Repeat([]byte{0x0b}, 20), []byte("Hi There"),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
			"afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
			"87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{"4.3 test case 2", []byte("Jefe"), []byte("what do ya want for nothing?"),
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
			"af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
			"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		{"4.7 test case 6", largeKey, []byte("Test Using Larger Than Block-Size Key - Hash Key First"),
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
			"4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
			"80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
	}
	for _, tc := range cases {
		for _, v := range []struct {
			id   uint16
			want string
		}{{PRFHMACSHA2_256, tc.s256}, {PRFHMACSHA2_384, tc.s384}, {PRFHMACSHA2_512, tc.s512}} {
			p, err := NewPRF(v.id)
			if err != nil {
				t.Fatal(err)
			}
			// Split the data to check that Compute concatenates.
			got := p.Compute(tc.key, tc.data[:3], tc.data[3:])
			if want := unhex(t, v.want); !bytes.Equal(got, want) {
				t.Errorf("%s %v: got %x, want %x", tc.name, p, got, want)
			}
		}
	}
}

// TestRFC4868PRF runs the PRF test cases PRF-1 and PRF-2 of RFC 4868
// §2.7.1 (keys as long as the hash output) and, for the integrity
// transforms, their truncation to the ICV length of §2.3.
func TestRFC4868PRF(t *testing.T) {
	cases := []struct {
		prf, integ uint16
		keyLen     int
		prf1       string
	}{
		{PRFHMACSHA2_256, IntegHMACSHA2_256_128, 32, "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"},
		{PRFHMACSHA2_384, IntegHMACSHA2_384_192, 48, "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc4c5df61d5b3297b4fb68dab9f1b582c2"},
		{PRFHMACSHA2_512, IntegHMACSHA2_512_256, 64, "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b"},
	}
	for _, tc := range cases {
		p, err := NewPRF(tc.prf)
		if err != nil {
			t.Fatal(err)
		}
		if p.Size() != tc.keyLen {
			t.Errorf("%v Size = %d, want %d", p, p.Size(), tc.keyLen)
		}
		key := bytes.Repeat([]byte{0x0b}, tc.keyLen)
		want := unhex(t, tc.prf1)
		if got := p.Compute(key, []byte("Hi There")); !bytes.Equal(got, want) {
			t.Errorf("PRF-1 %v: got %x, want %x", p, got, want)
		}
		in, err := NewInteg(tc.integ, key)
		if err != nil {
			t.Fatal(err)
		}
		icv := in.Sum(nil, []byte("Hi "), []byte("There"))
		if !bytes.Equal(icv, want[:tc.keyLen/2]) {
			t.Errorf("%v: got %x, want %x", in, icv, want[:tc.keyLen/2])
		}
		if !in.Verify(icv, []byte("Hi There")) {
			t.Errorf("%v: Verify rejects its own ICV", in)
		}
		icv[0] ^= 1
		if in.Verify(icv, []byte("Hi There")) {
			t.Errorf("%v: Verify accepts a modified ICV", in)
		}
	}
}

func TestPRFPlus(t *testing.T) {
	hashes := map[uint16]func() hash.Hash{
		PRFHMACSHA2_256: sha256.New, PRFHMACSHA2_384: sha512.New384, PRFHMACSHA2_512: sha512.New,
	}
	key := []byte("prf+ key of any length")
	seed := bytes.Repeat([]byte{0x5a, 0xa5, 0x01}, 40)
	for id, h := range hashes {
		p, _ := NewPRF(id)
		for _, n := range []int{0, 1, p.Size() - 1, p.Size(), p.Size() + 1, 3*p.Size() + 7, 255 * p.Size()} {
			got, err := p.Expand(key, seed, n)
			if err != nil {
				t.Fatalf("%v Expand(%d): %v", p, n, err)
			}
			if want := refPRFPlus(h, key, seed, n); !bytes.Equal(got, want) {
				t.Errorf("%v Expand(%d) differs from the reference", p, n)
			}
		}
		if _, err := p.Expand(key, seed, 255*p.Size()+1); err == nil {
			t.Errorf("%v: prf+ beyond 255 iterations accepted (RFC 7296 §2.13)", p)
		}
	}
}

func TestNewPRFUnsupported(t *testing.T) {
	for _, id := range []uint16{0, 1, 2, 3, 4, 8} { // MD5, SHA1, TIGER, AES128_XCBC, AES128_CMAC
		if _, err := NewPRF(id); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewPRF(%d) = %v, want ErrUnsupported", id, err)
		}
	}
}
