package wire

// Cert is a CERT payload (RFC 7296 §3.6). The codec keeps it opaque; an OE
// agent that authenticates with DNSSEC-validated keys may ignore it.
type Cert struct {
	Encoding CertEncoding
	Data     []byte
}

// Type returns PayloadCert.
func (*Cert) Type() PayloadType { return PayloadCert }

// CertReq is a CERTREQ payload (RFC 7296 §3.7). For X509_SIGNATURE the
// Certification Authority field is a concatenation of 20-octet SHA-1 hashes
// of trusted CA public keys; see Authorities.
type CertReq struct {
	Encoding CertEncoding
	Data     []byte
}

// Type returns PayloadCertReq.
func (*CertReq) Type() PayloadType { return PayloadCertReq }

// Authorities splits the Certification Authority field of an X509_SIGNATURE
// request into its SHA-1 key hashes. ok is false if the encoding is another
// one or the length is not a multiple of 20. The hashes alias c.Data.
func (c *CertReq) Authorities() (hashes [][]byte, ok bool) {
	const n = 20
	if c.Encoding != CertX509Signature || len(c.Data)%n != 0 {
		return nil, false
	}
	for i := 0; i < len(c.Data); i += n {
		hashes = append(hashes, c.Data[i:i+n:i+n])
	}
	return hashes, true
}

func decodeCertBody(pt PayloadType, body []byte, base int) (CertEncoding, []byte, error) {
	r := newReader(pt, body, base)
	enc, err := r.u8("cert encoding")
	if err != nil {
		return 0, nil, err
	}
	return CertEncoding(enc), r.rest(), nil
}

func decodeCert(pt PayloadType, body []byte, base int) (Payload, error) {
	enc, data, err := decodeCertBody(pt, body, base)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, decodeErr(ErrInvalid, pt, base+1, "certificate data", "is empty")
	}
	return &Cert{Encoding: enc, Data: data}, nil
}

func decodeCertReq(pt PayloadType, body []byte, base int) (Payload, error) {
	enc, data, err := decodeCertBody(pt, body, base)
	if err != nil {
		return nil, err
	}
	return &CertReq{Encoding: enc, Data: data}, nil
}

func (c *Cert) appendBody(b []byte) ([]byte, error) {
	if len(c.Data) == 0 {
		return nil, encodeErr(PayloadCert, "certificate data", "is empty")
	}
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}

func (c *CertReq) appendBody(b []byte) ([]byte, error) {
	return append(append(b, byte(c.Encoding)), c.Data...), nil
}
