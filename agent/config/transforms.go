package config

import "strconv"

// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" transform IDs
// (RFC 7296 §3.3.2 and the registries it created), defined here as plain
// numbers so that this package does not depend on the IKE implementation.
// Only the algorithms oe-agent accepts in proposals are listed.

// Transform types (RFC 7296 §3.3.2).
const (
	TransformENCR  uint8 = 1
	TransformPRF   uint8 = 2
	TransformINTEG uint8 = 3
	TransformKE    uint8 = 4 // "D-H" in RFC 7296, "Key Exchange Method" since RFC 9370
	TransformESN   uint8 = 5
)

// Encryption algorithms (transform type 1).
const (
	Encr3DES             uint16 = 3  // RFC 2451
	EncrNull             uint16 = 11 // RFC 2410, ESP only
	EncrAESCBC           uint16 = 12 // RFC 3602
	EncrAESCTR           uint16 = 13 // RFC 5930
	EncrAESCCM8          uint16 = 14 // RFC 4309
	EncrAESCCM12         uint16 = 15
	EncrAESCCM16         uint16 = 16
	EncrAESGCM8          uint16 = 18 // RFC 4106
	EncrAESGCM12         uint16 = 19
	EncrAESGCM16         uint16 = 20
	EncrNullAuthAESGMAC  uint16 = 21 // RFC 4543, ESP only
	EncrCamelliaCBC      uint16 = 23 // RFC 5529
	EncrCamelliaCTR      uint16 = 24
	EncrCamelliaCCM8     uint16 = 25
	EncrCamelliaCCM12    uint16 = 26
	EncrCamelliaCCM16    uint16 = 27
	EncrChaCha20Poly1305 uint16 = 28 // RFC 7634
)

// Pseudorandom functions (transform type 2).
const (
	PRFHMACSHA1     uint16 = 2 // RFC 2104
	PRFAES128XCBC   uint16 = 4 // RFC 4434
	PRFHMACSHA2_256 uint16 = 5 // RFC 4868
	PRFHMACSHA2_384 uint16 = 6
	PRFHMACSHA2_512 uint16 = 7
	PRFAES128CMAC   uint16 = 8 // RFC 4615
)

// Integrity algorithms (transform type 3).
const (
	IntegNone            uint16 = 0
	IntegHMACSHA1_96     uint16 = 2  // RFC 2404
	IntegAESXCBC96       uint16 = 5  // RFC 3566
	IntegAESCMAC96       uint16 = 8  // RFC 4494
	IntegHMACSHA2_256128 uint16 = 12 // RFC 4868
	IntegHMACSHA2_384192 uint16 = 13
	IntegHMACSHA2_512256 uint16 = 14
)

// Key exchange methods (transform type 4).
const (
	DHNone         uint16 = 0
	DHMODP1024     uint16 = 2  // RFC 2409
	DHMODP1536     uint16 = 5  // RFC 3526
	DHMODP2048     uint16 = 14 // RFC 3526
	DHMODP3072     uint16 = 15
	DHMODP4096     uint16 = 16
	DHMODP6144     uint16 = 17
	DHMODP8192     uint16 = 18
	DHECP256       uint16 = 19 // RFC 5903
	DHECP384       uint16 = 20
	DHECP521       uint16 = 21
	DHMODP1024S160 uint16 = 22 // RFC 5114
	DHMODP2048S224 uint16 = 23
	DHMODP2048S256 uint16 = 24
	DHECP192       uint16 = 25
	DHECP224       uint16 = 26
	DHBrainpool224 uint16 = 27 // RFC 6954
	DHBrainpool256 uint16 = 28
	DHBrainpool384 uint16 = 29
	DHBrainpool512 uint16 = 30
	DHCurve25519   uint16 = 31 // RFC 8031
	DHCurve448     uint16 = 32
	DHMLKEM512     uint16 = 35 // draft-ietf-ipsecme-ikev2-mlkem
	DHMLKEM768     uint16 = 36
	DHMLKEM1024    uint16 = 37
)

// Extended sequence numbers (transform type 5).
const (
	ESNNo  uint16 = 0
	ESNYes uint16 = 1
)

// hashAlg ties an integrity algorithm to the PRF of the same hash, which is
// what a bare "sha256" means in an IKE proposal.
type hashAlg struct {
	name  string // canonical (strongSwan) token
	integ uint16
	prf   uint16
	// Key and output sizes in bytes, for manual keying.
	keyLen int
}

var hashAlgs = []hashAlg{
	{"sha1", IntegHMACSHA1_96, PRFHMACSHA1, 20},
	{"aesxcbc", IntegAESXCBC96, PRFAES128XCBC, 16},
	{"aescmac", IntegAESCMAC96, PRFAES128CMAC, 16},
	{"sha256", IntegHMACSHA2_256128, PRFHMACSHA2_256, 32},
	{"sha384", IntegHMACSHA2_384192, PRFHMACSHA2_384, 48},
	{"sha512", IntegHMACSHA2_512256, PRFHMACSHA2_512, 64},
}

// hashNames maps every accepted spelling (underscores removed, lower case)
// to the canonical name.
// libreswan's own names (lib/libswan/ike_alg_*.c) include the truncation
// ("sha2_256_128", "aes_xcbc_96") and an "hmac_" prefix.
var hashNames = map[string]string{
	"sha1": "sha1", "sha": "sha1", "sha196": "sha1", "hmacsha1": "sha1",
	"sha2": "sha256", "sha256": "sha256", "sha2256": "sha256", "sha2256128": "sha256", "hmacsha2256": "sha256",
	"sha384": "sha384", "sha2384": "sha384", "sha2384192": "sha384", "hmacsha2384": "sha384",
	"sha512": "sha512", "sha2512": "sha512", "sha2512256": "sha512", "hmacsha2512": "sha512",
	"aesxcbc": "aesxcbc", "xcbc": "aesxcbc", "aesxcbc96": "aesxcbc",
	"aescmac": "aescmac", "cmac": "aescmac", "aescmac96": "aescmac",
}

func hashByName(canon string) hashAlg {
	for _, h := range hashAlgs {
		if h.name == canon {
			return h
		}
	}
	panic("config: unknown canonical hash " + canon)
}

func hashByInteg(id uint16) (hashAlg, bool) {
	for _, h := range hashAlgs {
		if h.integ == id {
			return h, true
		}
	}
	return hashAlg{}, false
}

func hashByPRF(id uint16) (hashAlg, bool) {
	for _, h := range hashAlgs {
		if h.prf == id {
			return h, true
		}
	}
	return hashAlg{}, false
}

// dhGroups lists key exchange methods with their canonical token first.
var dhGroups = []struct {
	id    uint16
	names []string
}{
	{DHMODP1024, []string{"modp1024", "dh2"}},
	{DHMODP1536, []string{"modp1536", "dh5"}},
	{DHMODP2048, []string{"modp2048", "dh14"}},
	{DHMODP3072, []string{"modp3072", "dh15"}},
	{DHMODP4096, []string{"modp4096", "dh16"}},
	{DHMODP6144, []string{"modp6144", "dh17"}},
	{DHMODP8192, []string{"modp8192", "dh18"}},
	{DHECP256, []string{"ecp256", "dh19", "secp256r1"}},
	{DHECP384, []string{"ecp384", "dh20", "secp384r1"}},
	{DHECP521, []string{"ecp521", "dh21", "secp521r1"}},
	{DHMODP1024S160, []string{"modp1024s160", "dh22"}},
	{DHMODP2048S224, []string{"modp2048s224", "dh23"}},
	{DHMODP2048S256, []string{"modp2048s256", "dh24"}},
	{DHECP192, []string{"ecp192", "dh25"}},
	{DHECP224, []string{"ecp224", "dh26"}},
	{DHBrainpool224, []string{"ecp224bp", "dh27"}},
	{DHBrainpool256, []string{"ecp256bp", "dh28"}},
	{DHBrainpool384, []string{"ecp384bp", "dh29"}},
	{DHBrainpool512, []string{"ecp512bp", "dh30"}},
	{DHCurve25519, []string{"x25519", "curve25519", "dh31"}},
	{DHCurve448, []string{"x448", "curve448", "dh32"}},
	{DHMLKEM512, []string{"mlkem512"}},
	{DHMLKEM768, []string{"mlkem768"}},
	{DHMLKEM1024, []string{"mlkem1024"}},
}

func dhByName(n string) (uint16, bool) {
	for _, g := range dhGroups {
		for _, name := range g.names {
			if name == n {
				return g.id, true
			}
		}
	}
	return 0, false
}

func dhName(id uint16) string {
	for _, g := range dhGroups {
		if g.id == id {
			return g.names[0]
		}
	}
	return "dh" + strconv.Itoa(int(id))
}

// IsAEAD reports whether encryption transform id is a combined mode
// (RFC 5282): such proposals carry no integrity transform.
func IsAEAD(id uint16) bool {
	switch id {
	case EncrAESCCM8, EncrAESCCM12, EncrAESCCM16, EncrAESGCM8, EncrAESGCM12, EncrAESGCM16,
		EncrCamelliaCCM8, EncrCamelliaCCM12, EncrCamelliaCCM16, EncrChaCha20Poly1305, EncrNullAuthAESGMAC:
		return true
	}
	return false
}

// hasKeyLen reports whether id takes a Key Length attribute (RFC 7296
// §3.3.5): the AES and Camellia families.
func hasKeyLen(id uint16) bool {
	switch id {
	case EncrAESCBC, EncrAESCTR, EncrAESCCM8, EncrAESCCM12, EncrAESCCM16, EncrAESGCM8, EncrAESGCM12,
		EncrAESGCM16, EncrNullAuthAESGMAC, EncrCamelliaCBC, EncrCamelliaCTR, EncrCamelliaCCM8,
		EncrCamelliaCCM12, EncrCamelliaCCM16:
		return true
	}
	return false
}

// EncrKeyBytes is the number of key bytes the Linux kernel expects for an
// ESP encryption transform with key length bits: the cipher key plus the
// salt or nonce of the combined and counter modes (RFC 4106 §8.1, RFC 4309
// §7.1, RFC 3686 §5.1, RFC 7634 §2).
func EncrKeyBytes(t Transform) int {
	switch t.ID {
	case Encr3DES:
		return 24
	case EncrNull:
		return 0
	case EncrChaCha20Poly1305:
		return 32 + 4
	case EncrAESCBC, EncrCamelliaCBC:
		return int(t.KeyLen) / 8
	case EncrAESCCM8, EncrAESCCM12, EncrAESCCM16, EncrCamelliaCCM8, EncrCamelliaCCM12, EncrCamelliaCCM16:
		return int(t.KeyLen)/8 + 3
	default: // GCM, GMAC, CTR
		return int(t.KeyLen)/8 + 4
	}
}
