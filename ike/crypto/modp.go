package crypto

import (
	"fmt"
	"io"
	"math/big"
)

// RFC 3526 MODP primes, p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + c),
// all with generator 2. modp_test.go recomputes them from that formula.
const (
	// modp2048Hex is the 2048-bit MODP group prime (RFC 3526 §3).
	modp2048Hex = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
		"3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
	// modp3072Hex is the 3072-bit MODP group prime (RFC 3526 §4).
	modp3072Hex = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
		"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
		"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
		"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
		"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
		"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)

type modpGroup struct {
	p, pMinus1 *big.Int
	size       int // octets of p and of every public value
	// expBits is the private exponent length: twice the upper strength
	// estimate of RFC 3526 §8 (160 bits for group 14, 210 for group 15).
	expBits int
}

var (
	modp2048 = newMODPGroup(modp2048Hex, 320)
	modp3072 = newMODPGroup(modp3072Hex, 420)
	two      = big.NewInt(2)
)

func newMODPGroup(hexP string, expBits int) *modpGroup {
	p, ok := new(big.Int).SetString(hexP, 16)
	if !ok {
		panic("crypto: bad MODP prime constant")
	}
	return &modpGroup{p: p, pMinus1: new(big.Int).Sub(p, big.NewInt(1)), size: (p.BitLen() + 7) / 8, expBits: expBits}
}

func modpParams(g Group) *modpGroup {
	if g == GroupMODP2048 {
		return modp2048
	}
	return modp3072
}

// generateMODP draws a private exponent 2 <= x < 2^expBits from rand and
// computes g^x mod p. (Short exponents are safe with safe primes, RFC 3526
// §8.) math/big is not constant time; the exponent is used for one
// exchange only, and the elliptic curve groups are preferred.
func generateMODP(g Group, rand io.Reader) (*DHKey, error) {
	m := modpParams(g)
	buf := make([]byte, m.expBits/8+1)
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("crypto: %v key generation: %w", g, err)
		}
		buf[0] &= byte(1<<(m.expBits%8)) - 1
		x := new(big.Int).SetBytes(buf)
		clear(buf)
		if x.Cmp(two) < 0 {
			continue
		}
		y := new(big.Int).Exp(two, x, m.p)
		return &DHKey{group: g, x: x, pub: y.FillBytes(make([]byte, m.size))}, nil
	}
}

// modpShared checks 1 < y < p-1 (RFC 3526 has no subgroup check
// requirement, but y = 0, 1 and p-1 force a guessable secret; RFC 6989
// §2.2) and returns y^x mod p padded to the modulus length (RFC 7296
// §2.14).
func modpShared(k *DHKey, peer []byte) (Key, error) {
	m := modpParams(k.group)
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(m.pMinus1) >= 0 {
		return nil, fmt.Errorf("%w: %v public value outside 1 < y < p-1", ErrInvalidKE, k.group)
	}
	z := new(big.Int).Exp(y, k.x, m.p)
	return Key(z.FillBytes(make([]byte, m.size))), nil
}
