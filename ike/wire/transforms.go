package wire

import "strconv"

// TransformType is the Transform Type of an SA transform (RFC 7296 §3.3.2).
type TransformType uint8

// Transform types. RFC 9370 renamed type 4 "Key Exchange Method" and added the
// additional key exchanges 6-12.
const (
	TransformEncr  TransformType = 1 // Encryption Algorithm (ENCR)
	TransformPRF   TransformType = 2 // Pseudorandom Function (PRF)
	TransformInteg TransformType = 3 // Integrity Algorithm (INTEG)
	TransformDH    TransformType = 4 // Diffie-Hellman group (D-H), "KE" in RFC 9370
	TransformESN   TransformType = 5 // Extended Sequence Numbers (ESN)
)

var transformTypeNames = map[TransformType]string{
	TransformEncr:  "ENCR",
	TransformPRF:   "PRF",
	TransformInteg: "INTEG",
	TransformDH:    "DH",
	TransformESN:   "ESN",
	6:              "ADDKE1",
	7:              "ADDKE2",
	8:              "ADDKE3",
	9:              "ADDKE4",
	10:             "ADDKE5",
	11:             "ADDKE6",
	12:             "ADDKE7",
}

// String returns "ENCR", "PRF", "INTEG", "DH", "ESN" or "ADDKEn".
func (t TransformType) String() string { return name(transformTypeNames, t, "TransformType") }

// EncrID is a Transform ID of type ENCR.
type EncrID uint16

// Encryption algorithms (IANA "Transform Type 1").
const (
	Encr3DES             EncrID = 3
	EncrNull             EncrID = 11
	EncrAESCBC           EncrID = 12 // RFC 3602; needs a Key Length attribute
	EncrAESCTR           EncrID = 13 // RFC 3686
	EncrAESCCM8          EncrID = 14 // RFC 4309
	EncrAESCCM12         EncrID = 15
	EncrAESCCM16         EncrID = 16
	EncrAESGCM8          EncrID = 18 // RFC 4106
	EncrAESGCM12         EncrID = 19
	EncrAESGCM16         EncrID = 20
	EncrNullAuthAESGMAC  EncrID = 21 // RFC 4543
	EncrCamelliaCBC      EncrID = 23 // RFC 5529
	EncrChaCha20Poly1305 EncrID = 28 // RFC 7634
)

var encrNames = map[EncrID]string{
	Encr3DES:             "ENCR_3DES",
	EncrNull:             "ENCR_NULL",
	EncrAESCBC:           "ENCR_AES_CBC",
	EncrAESCTR:           "ENCR_AES_CTR",
	EncrAESCCM8:          "ENCR_AES_CCM_8",
	EncrAESCCM12:         "ENCR_AES_CCM_12",
	EncrAESCCM16:         "ENCR_AES_CCM_16",
	EncrAESGCM8:          "ENCR_AES_GCM_8",
	EncrAESGCM12:         "ENCR_AES_GCM_12",
	EncrAESGCM16:         "ENCR_AES_GCM_16",
	EncrNullAuthAESGMAC:  "ENCR_NULL_AUTH_AES_GMAC",
	EncrCamelliaCBC:      "ENCR_CAMELLIA_CBC",
	EncrChaCha20Poly1305: "ENCR_CHACHA20_POLY1305",
}

// String returns the IANA name, e.g. "ENCR_AES_GCM_16".
func (id EncrID) String() string { return name(encrNames, id, "ENCR") }

// Transform returns the ENCR transform for id with a Key Length attribute of
// keyBits, or without one if keyBits is 0 (for fixed-length ciphers such as
// ENCR_CHACHA20_POLY1305).
func (id EncrID) Transform(keyBits uint16) Transform {
	return Transform{Type: TransformEncr, ID: uint16(id), KeyLength: keyBits}
}

// PRFID is a Transform ID of type PRF.
type PRFID uint16

// Pseudorandom functions (IANA "Transform Type 2").
const (
	PRFHMACMD5      PRFID = 1
	PRFHMACSHA1     PRFID = 2
	PRFAES128XCBC   PRFID = 4 // RFC 4434
	PRFHMACSHA2_256 PRFID = 5 // RFC 4868
	PRFHMACSHA2_384 PRFID = 6
	PRFHMACSHA2_512 PRFID = 7
	PRFAES128CMAC   PRFID = 8 // RFC 4615
)

var prfNames = map[PRFID]string{
	PRFHMACMD5:      "PRF_HMAC_MD5",
	PRFHMACSHA1:     "PRF_HMAC_SHA1",
	PRFAES128XCBC:   "PRF_AES128_XCBC",
	PRFHMACSHA2_256: "PRF_HMAC_SHA2_256",
	PRFHMACSHA2_384: "PRF_HMAC_SHA2_384",
	PRFHMACSHA2_512: "PRF_HMAC_SHA2_512",
	PRFAES128CMAC:   "PRF_AES128_CMAC",
}

// String returns the IANA name, e.g. "PRF_HMAC_SHA2_256".
func (id PRFID) String() string { return name(prfNames, id, "PRF") }

// Transform returns the PRF transform for id.
func (id PRFID) Transform() Transform { return Transform{Type: TransformPRF, ID: uint16(id)} }

// IntegID is a Transform ID of type INTEG.
type IntegID uint16

// Integrity algorithms (IANA "Transform Type 3").
const (
	IntegNone             IntegID = 0
	IntegHMACMD5_96       IntegID = 1
	IntegHMACSHA1_96      IntegID = 2
	IntegAESXCBC96        IntegID = 5
	IntegAESCMAC96        IntegID = 8
	IntegAES128GMAC       IntegID = 9
	IntegAES192GMAC       IntegID = 10
	IntegAES256GMAC       IntegID = 11
	IntegHMACSHA2_256_128 IntegID = 12 // RFC 4868
	IntegHMACSHA2_384_192 IntegID = 13
	IntegHMACSHA2_512_256 IntegID = 14
)

var integNames = map[IntegID]string{
	IntegNone:             "NONE",
	IntegHMACMD5_96:       "AUTH_HMAC_MD5_96",
	IntegHMACSHA1_96:      "AUTH_HMAC_SHA1_96",
	IntegAESXCBC96:        "AUTH_AES_XCBC_96",
	IntegAESCMAC96:        "AUTH_AES_CMAC_96",
	IntegAES128GMAC:       "AUTH_AES_128_GMAC",
	IntegAES192GMAC:       "AUTH_AES_192_GMAC",
	IntegAES256GMAC:       "AUTH_AES_256_GMAC",
	IntegHMACSHA2_256_128: "AUTH_HMAC_SHA2_256_128",
	IntegHMACSHA2_384_192: "AUTH_HMAC_SHA2_384_192",
	IntegHMACSHA2_512_256: "AUTH_HMAC_SHA2_512_256",
}

// String returns the IANA name, e.g. "AUTH_HMAC_SHA2_256_128".
func (id IntegID) String() string { return name(integNames, id, "INTEG") }

// Transform returns the INTEG transform for id.
func (id IntegID) Transform() Transform { return Transform{Type: TransformInteg, ID: uint16(id)} }

// DHGroup is a Transform ID of type DH (Key Exchange Method), also carried in
// KE payloads and INVALID_KE_PAYLOAD notifications.
type DHGroup uint16

// Diffie-Hellman groups (IANA "Transform Type 4").
const (
	DHNone       DHGroup = 0
	DHModP1024   DHGroup = 2
	DHModP1536   DHGroup = 5
	DHModP2048   DHGroup = 14 // RFC 3526
	DHModP3072   DHGroup = 15
	DHModP4096   DHGroup = 16
	DHModP6144   DHGroup = 17
	DHModP8192   DHGroup = 18
	DHECP256     DHGroup = 19 // RFC 5903
	DHECP384     DHGroup = 20
	DHECP521     DHGroup = 21
	DHCurve25519 DHGroup = 31 // RFC 8031
	DHCurve448   DHGroup = 32
	DHMLKEM512   DHGroup = 35 // RFC 9370 + draft-ietf-ipsecme-ikev2-mlkem
	DHMLKEM768   DHGroup = 36
	DHMLKEM1024  DHGroup = 37
)

var dhNames = map[DHGroup]string{
	DHNone:       "NONE",
	DHModP1024:   "MODP_1024",
	DHModP1536:   "MODP_1536",
	DHModP2048:   "MODP_2048",
	DHModP3072:   "MODP_3072",
	DHModP4096:   "MODP_4096",
	DHModP6144:   "MODP_6144",
	DHModP8192:   "MODP_8192",
	DHECP256:     "ECP_256",
	DHECP384:     "ECP_384",
	DHECP521:     "ECP_521",
	DHCurve25519: "CURVE25519",
	DHCurve448:   "CURVE448",
	DHMLKEM512:   "ML_KEM_512",
	DHMLKEM768:   "ML_KEM_768",
	DHMLKEM1024:  "ML_KEM_1024",
}

// String returns the IANA-style name, e.g. "MODP_2048", "CURVE25519".
func (g DHGroup) String() string { return name(dhNames, g, "DH") }

// Transform returns the DH transform for g.
func (g DHGroup) Transform() Transform { return Transform{Type: TransformDH, ID: uint16(g)} }

// ESNID is a Transform ID of type ESN.
type ESNID uint16

// Extended Sequence Numbers (RFC 7296 §3.3.2).
const (
	ESNNo  ESNID = 0
	ESNYes ESNID = 1
)

// String returns "NO_ESN" or "ESN".
func (e ESNID) String() string {
	switch e {
	case ESNNo:
		return "NO_ESN"
	case ESNYes:
		return "ESN"
	}
	return "ESN(" + strconv.Itoa(int(e)) + ")"
}

// Transform returns the ESN transform for e.
func (e ESNID) Transform() Transform { return Transform{Type: TransformESN, ID: uint16(e)} }

// idName names transform ID id of type t.
func idName(t TransformType, id uint16) string {
	switch t {
	case TransformEncr:
		return EncrID(id).String()
	case TransformPRF:
		return PRFID(id).String()
	case TransformInteg:
		return IntegID(id).String()
	case TransformDH:
		return DHGroup(id).String()
	case TransformESN:
		return ESNID(id).String()
	}
	if t >= 6 && t <= 12 { // RFC 9370 additional key exchanges use DH IDs
		return DHGroup(id).String()
	}
	return t.String() + "(" + strconv.Itoa(int(id)) + ")"
}

// AttributeType is the type of a transform attribute, without the AF bit
// (RFC 7296 §3.3.5).
type AttributeType uint16

// AttributeKeyLength is the only transform attribute IKEv2 defines: the key
// length in bits, always in TV format.
const AttributeKeyLength AttributeType = 14

// String returns "KEY_LENGTH" or AttributeType(n).
func (t AttributeType) String() string {
	if t == AttributeKeyLength {
		return "KEY_LENGTH"
	}
	return "AttributeType(" + strconv.Itoa(int(t)) + ")"
}
