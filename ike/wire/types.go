package wire

import "strconv"

// name returns names[v], or kind(v) for values without a registered name, so
// that logs always show something meaningful.
func name[T ~uint8 | ~uint16](names map[T]string, v T, kind string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return kind + "(" + strconv.Itoa(int(v)) + ")"
}

// ExchangeType is the Exchange Type field of the IKE header (RFC 7296 §3.1).
type ExchangeType uint8

// Exchange types (IANA "IKEv2 Exchange Types").
const (
	ExchangeIKESAInit        ExchangeType = 34 // RFC 7296
	ExchangeIKEAuth          ExchangeType = 35 // RFC 7296
	ExchangeCreateChildSA    ExchangeType = 36 // RFC 7296
	ExchangeInformational    ExchangeType = 37 // RFC 7296
	ExchangeIKESessionResume ExchangeType = 38 // RFC 5723
	ExchangeIKEIntermediate  ExchangeType = 43 // RFC 9242
	ExchangeIKEFollowupKE    ExchangeType = 44 // RFC 9370
)

var exchangeNames = map[ExchangeType]string{
	ExchangeIKESAInit:        "IKE_SA_INIT",
	ExchangeIKEAuth:          "IKE_AUTH",
	ExchangeCreateChildSA:    "CREATE_CHILD_SA",
	ExchangeInformational:    "INFORMATIONAL",
	ExchangeIKESessionResume: "IKE_SESSION_RESUME",
	ExchangeIKEIntermediate:  "IKE_INTERMEDIATE",
	ExchangeIKEFollowupKE:    "IKE_FOLLOWUP_KE",
}

// String returns the IANA name, e.g. "IKE_SA_INIT".
func (t ExchangeType) String() string { return name(exchangeNames, t, "ExchangeType") }

// PayloadType is the Next Payload value naming a payload (RFC 7296 §3.2).
type PayloadType uint8

// Payload types (IANA "IKEv2 Payload Types").
const (
	PayloadNone           PayloadType = 0  // No Next Payload
	PayloadSA             PayloadType = 33 // Security Association
	PayloadKE             PayloadType = 34 // Key Exchange
	PayloadIDi            PayloadType = 35 // Identification - Initiator
	PayloadIDr            PayloadType = 36 // Identification - Responder
	PayloadCert           PayloadType = 37 // Certificate
	PayloadCertReq        PayloadType = 38 // Certificate Request
	PayloadAuth           PayloadType = 39 // Authentication
	PayloadNonce          PayloadType = 40 // Nonce (Ni, Nr)
	PayloadNotify         PayloadType = 41 // Notify
	PayloadDelete         PayloadType = 42 // Delete
	PayloadVendorID       PayloadType = 43 // Vendor ID
	PayloadTSi            PayloadType = 44 // Traffic Selector - Initiator
	PayloadTSr            PayloadType = 45 // Traffic Selector - Responder
	PayloadSK             PayloadType = 46 // Encrypted and Authenticated
	PayloadCP             PayloadType = 47 // Configuration
	PayloadEAP            PayloadType = 48 // Extensible Authentication (decoded as *Unknown)
	PayloadGSPM           PayloadType = 49 // RFC 6467 (decoded as *Unknown)
	PayloadSKF            PayloadType = 53 // Encrypted and Authenticated Fragment, RFC 7383
	PayloadPuzzleSolution PayloadType = 54 // RFC 8019 (decoded as *Unknown)
)

var payloadNames = map[PayloadType]string{
	PayloadNone:           "NONE",
	PayloadSA:             "SA",
	PayloadKE:             "KE",
	PayloadIDi:            "IDi",
	PayloadIDr:            "IDr",
	PayloadCert:           "CERT",
	PayloadCertReq:        "CERTREQ",
	PayloadAuth:           "AUTH",
	PayloadNonce:          "Nonce",
	PayloadNotify:         "N",
	PayloadDelete:         "D",
	PayloadVendorID:       "V",
	PayloadTSi:            "TSi",
	PayloadTSr:            "TSr",
	PayloadSK:             "SK",
	PayloadCP:             "CP",
	PayloadEAP:            "EAP",
	PayloadGSPM:           "GSPM",
	PayloadSKF:            "SKF",
	PayloadPuzzleSolution: "PS",
}

// String returns the RFC 7296 notation, e.g. "SA", "Nonce", "SK".
func (t PayloadType) String() string { return name(payloadNames, t, "PayloadType") }

// ProtocolID is the Protocol ID of proposals, notifications and deletes
// (RFC 7296 §3.3.1).
type ProtocolID uint8

// Protocol IDs. ProtocolNone is what Notify payloads carry when they concern
// no particular SA.
const (
	ProtocolNone ProtocolID = 0
	ProtocolIKE  ProtocolID = 1
	ProtocolAH   ProtocolID = 2
	ProtocolESP  ProtocolID = 3
)

var protocolNames = map[ProtocolID]string{
	ProtocolNone: "NONE",
	ProtocolIKE:  "IKE",
	ProtocolAH:   "AH",
	ProtocolESP:  "ESP",
}

// String returns "IKE", "AH", "ESP" or "NONE".
func (p ProtocolID) String() string { return name(protocolNames, p, "ProtocolID") }

// spiSizeOK reports whether an SPI of n octets fits protocol p in a proposal
// (RFC 7296 §3.3.1: 8 for IKE rekeys, 0 for IKE_SA_INIT, 4 for AH and ESP).
// Protocols this package does not know are not restricted.
func spiSizeOK(p ProtocolID, n int) bool {
	switch p {
	case ProtocolIKE:
		return n == 0 || n == 8
	case ProtocolAH, ProtocolESP:
		return n == 4
	}
	return true
}

// IDType is the ID Type of IDi/IDr payloads (RFC 7296 §3.5).
type IDType uint8

// Identification types.
const (
	IDIPv4Addr   IDType = 1  // four octets
	IDFQDN       IDType = 2  // a fully-qualified domain name, no terminator
	IDRFC822Addr IDType = 3  // an email address
	IDIPv6Addr   IDType = 5  // sixteen octets
	IDDERASN1DN  IDType = 9  // a DER-encoded X.500 distinguished name
	IDDERASN1GN  IDType = 10 // a DER-encoded X.509 GeneralName
	IDKeyID      IDType = 11 // opaque octets
	IDFCName     IDType = 12 // RFC 4595
	IDNull       IDType = 13 // RFC 7619
)

var idTypeNames = map[IDType]string{
	IDIPv4Addr:   "ID_IPV4_ADDR",
	IDFQDN:       "ID_FQDN",
	IDRFC822Addr: "ID_RFC822_ADDR",
	IDIPv6Addr:   "ID_IPV6_ADDR",
	IDDERASN1DN:  "ID_DER_ASN1_DN",
	IDDERASN1GN:  "ID_DER_ASN1_GN",
	IDKeyID:      "ID_KEY_ID",
	IDFCName:     "ID_FC_NAME",
	IDNull:       "ID_NULL",
}

// String returns the IANA name, e.g. "ID_FQDN".
func (t IDType) String() string { return name(idTypeNames, t, "IDType") }

// AuthMethod is the Auth Method of an AUTH payload (RFC 7296 §3.8).
type AuthMethod uint8

// Authentication methods.
const (
	AuthRSASig           AuthMethod = 1  // RSA Digital Signature (PKCS#1 v1.5 with SHA-1)
	AuthSharedKeyMIC     AuthMethod = 2  // Shared Key Message Integrity Code
	AuthDSSSig           AuthMethod = 3  // DSS Digital Signature
	AuthECDSASHA256P256  AuthMethod = 9  // RFC 4754
	AuthECDSASHA384P384  AuthMethod = 10 // RFC 4754
	AuthECDSASHA512P521  AuthMethod = 11 // RFC 4754
	AuthGSPM             AuthMethod = 12 // RFC 6467
	AuthNull             AuthMethod = 13 // RFC 7619
	AuthDigitalSignature AuthMethod = 14 // RFC 7427
)

var authMethodNames = map[AuthMethod]string{
	AuthRSASig:           "RSA_SIG",
	AuthSharedKeyMIC:     "SHARED_KEY_MIC",
	AuthDSSSig:           "DSS_SIG",
	AuthECDSASHA256P256:  "ECDSA_SHA256_P256",
	AuthECDSASHA384P384:  "ECDSA_SHA384_P384",
	AuthECDSASHA512P521:  "ECDSA_SHA512_P521",
	AuthGSPM:             "GSPM",
	AuthNull:             "NULL",
	AuthDigitalSignature: "DIGITAL_SIGNATURE",
}

// String returns the IANA name, e.g. "DIGITAL_SIGNATURE".
func (m AuthMethod) String() string { return name(authMethodNames, m, "AuthMethod") }

// CertEncoding is the Cert Encoding of CERT and CERTREQ payloads (RFC 7296 §3.6).
type CertEncoding uint8

// Certificate encodings used by IKEv2.
const (
	CertPKCS7             CertEncoding = 1
	CertPGP               CertEncoding = 2
	CertDNSSignedKey      CertEncoding = 3
	CertX509Signature     CertEncoding = 4
	CertKerberos          CertEncoding = 6
	CertCRL               CertEncoding = 7
	CertARL               CertEncoding = 8
	CertSPKI              CertEncoding = 9
	CertX509Attribute     CertEncoding = 10
	CertRawRSAKey         CertEncoding = 11 // deprecated by RFC 7670
	CertHashURLX509       CertEncoding = 12
	CertHashURLX509Bundle CertEncoding = 13
	CertOCSPContent       CertEncoding = 14 // RFC 4806
	CertRawPublicKey      CertEncoding = 15 // RFC 7670
)

var certEncodingNames = map[CertEncoding]string{
	CertPKCS7:             "PKCS7_WRAPPED_X509",
	CertPGP:               "PGP",
	CertDNSSignedKey:      "DNS_SIGNED_KEY",
	CertX509Signature:     "X509_SIGNATURE",
	CertKerberos:          "KERBEROS_TOKEN",
	CertCRL:               "CRL",
	CertARL:               "ARL",
	CertSPKI:              "SPKI",
	CertX509Attribute:     "X509_ATTRIBUTE",
	CertRawRSAKey:         "RAW_RSA_KEY",
	CertHashURLX509:       "HASH_URL_X509",
	CertHashURLX509Bundle: "HASH_URL_X509_BUNDLE",
	CertOCSPContent:       "OCSP_CONTENT",
	CertRawPublicKey:      "RAW_PUBLIC_KEY",
}

// String returns the IANA name, e.g. "X509_SIGNATURE".
func (e CertEncoding) String() string { return name(certEncodingNames, e, "CertEncoding") }
