package wire

import (
	"net/netip"
	"strconv"
)

// ID is an IDi or IDr payload (RFC 7296 §3.5).
type ID struct {
	// Responder selects IDr (true) or IDi (false).
	Responder bool
	IDType    IDType
	// Data is the Identification Data: 4 octets for ID_IPV4_ADDR, 16 for
	// ID_IPV6_ADDR, non-empty text for ID_FQDN and ID_RFC822_ADDR (no
	// terminator), opaque octets otherwise. ID_NULL data (RFC 7619 §3) is
	// kept as sent.
	Data []byte
}

// IDFromAddr returns the ID_IPV4_ADDR or ID_IPV6_ADDR identity for a. A
// 4-in-6 address yields ID_IPV6_ADDR; unmap it first for an IPv4 identity.
func IDFromAddr(a netip.Addr, responder bool) *ID {
	if a.Is4() {
		b := a.As4()
		return &ID{Responder: responder, IDType: IDIPv4Addr, Data: b[:]}
	}
	b := a.As16()
	return &ID{Responder: responder, IDType: IDIPv6Addr, Data: b[:]}
}

// Addr returns the address of an ID_IPV4_ADDR or ID_IPV6_ADDR identity.
func (id *ID) Addr() (netip.Addr, bool) {
	switch {
	case id.IDType == IDIPv4Addr && len(id.Data) == 4:
		return netip.AddrFrom4([4]byte(id.Data)), true
	case id.IDType == IDIPv6Addr && len(id.Data) == 16:
		return netip.AddrFrom16([16]byte(id.Data)), true
	}
	return netip.Addr{}, false
}

// String returns a log-friendly form such as "ID_FQDN:host.example" or
// "ID_IPV4_ADDR:192.0.2.1".
func (id *ID) String() string {
	s := id.IDType.String() + ":"
	switch id.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := id.Addr(); ok {
			return s + a.String()
		}
	case IDFQDN, IDRFC822Addr:
		return s + strconv.Quote(string(id.Data))
	case IDNull:
		return s
	}
	return s + strconv.Itoa(len(id.Data)) + " octets"
}

// Type returns PayloadIDr or PayloadIDi.
func (id *ID) Type() PayloadType {
	if id.Responder {
		return PayloadIDr
	}
	return PayloadIDi
}

// checkIDData validates identification data for its type and returns a
// description of the problem, or "".
func checkIDData(t IDType, data []byte) string {
	switch t {
	case IDIPv4Addr:
		if len(data) != 4 {
			return strconv.Itoa(len(data)) + " octets, ID_IPV4_ADDR needs 4"
		}
	case IDIPv6Addr:
		if len(data) != 16 {
			return strconv.Itoa(len(data)) + " octets, ID_IPV6_ADDR needs 16"
		}
	case IDFQDN, IDRFC822Addr, IDDERASN1DN, IDKeyID:
		if len(data) == 0 {
			return "empty for " + t.String()
		}
	}
	return ""
}

func decodeID(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	t, err := r.u8("id type")
	if err != nil {
		return nil, err
	}
	if err := r.skip(3, "id reserved"); err != nil {
		return nil, err
	}
	id := &ID{Responder: pt == PayloadIDr, IDType: IDType(t), Data: r.rest()}
	if msg := checkIDData(id.IDType, id.Data); msg != "" {
		return nil, r.errf(base+4, "identification data", "%s", msg)
	}
	return id, nil
}

func (id *ID) appendBody(b []byte) ([]byte, error) {
	if msg := checkIDData(id.IDType, id.Data); msg != "" {
		return nil, encodeErr(id.Type(), "identification data", "%s", msg)
	}
	b = append(b, byte(id.IDType), 0, 0, 0)
	return append(b, id.Data...), nil
}

// Auth is an AUTH payload (RFC 7296 §3.8). For AuthDigitalSignature the
// Data starts with the RFC 7427 §3 ASN.1 length and AlgorithmIdentifier;
// this package leaves that to ike/crypto.
type Auth struct {
	Method AuthMethod
	Data   []byte
}

// Type returns PayloadAuth.
func (*Auth) Type() PayloadType { return PayloadAuth }

func decodeAuth(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	m, err := r.u8("auth method")
	if err != nil {
		return nil, err
	}
	if err := r.skip(3, "auth reserved"); err != nil {
		return nil, err
	}
	if r.empty() {
		return nil, r.errf(r.pos(), "authentication data", "is empty")
	}
	return &Auth{Method: AuthMethod(m), Data: r.rest()}, nil
}

func (a *Auth) appendBody(b []byte) ([]byte, error) {
	if len(a.Data) == 0 {
		return nil, encodeErr(PayloadAuth, "authentication data", "is empty")
	}
	b = append(b, byte(a.Method), 0, 0, 0)
	return append(b, a.Data...), nil
}
