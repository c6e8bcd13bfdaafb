package wire

import (
	"encoding/binary"
	"fmt"
)

// Notify is an N payload (RFC 7296 §3.10).
type Notify struct {
	// Protocol is ProtocolNone when SPI is empty, as RFC 7296 §3.10 asks
	// of senders (receivers ignore it then); IKE, AH or ESP otherwise.
	Protocol ProtocolID
	// SPI identifies the SA the notification concerns; usually empty.
	SPI        []byte
	NotifyType NotifyType
	// Data is the Notification Data; its format depends on NotifyType
	// (see the accessor methods).
	Data []byte
}

// Type returns PayloadNotify.
func (*Notify) Type() PayloadType { return PayloadNotify }

// String returns e.g. "N(COOKIE)" or "N(REKEY_SA,ESP,spi=0x01020304)".
func (n *Notify) String() string {
	if len(n.SPI) == 0 {
		return fmt.Sprintf("N(%s)", n.NotifyType)
	}
	return fmt.Sprintf("N(%s,%s,spi=%#x)", n.NotifyType, n.Protocol, n.SPI)
}

func decodeNotify(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	proto, err := r.u8("protocol id")
	if err != nil {
		return nil, err
	}
	spiSize, err := r.u8("spi size")
	if err != nil {
		return nil, err
	}
	t, err := r.u16("notify message type")
	if err != nil {
		return nil, err
	}
	n := &Notify{Protocol: ProtocolID(proto), NotifyType: NotifyType(t)}
	if n.SPI, err = r.bytes(int(spiSize), "spi"); err != nil {
		return nil, err
	}
	n.Data = r.rest()
	return n, nil
}

func (n *Notify) appendBody(b []byte) ([]byte, error) {
	if len(n.SPI) > 255 {
		return nil, encodeErr(PayloadNotify, "spi size", "%d exceeds 255", len(n.SPI))
	}
	b = append(b, byte(n.Protocol), byte(len(n.SPI)))
	b = append16(b, uint16(n.NotifyType))
	b = append(b, n.SPI...)
	return append(b, n.Data...), nil
}

// NewNotify returns a notification about no particular SA.
func NewNotify(t NotifyType, data []byte) *Notify {
	return &Notify{NotifyType: t, Data: data}
}

// notifyDataErr reports bad notification data of n as an *Error at offset -1:
// the caller found it after decoding.
func (n *Notify) dataErr(format string, args ...any) error {
	return &Error{Payload: PayloadNotify, Offset: -1, Field: n.NotifyType.String() + " data", Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// Cookie returns the data of a COOKIE notification, checking its length is
// 1..64 octets (RFC 7296 §2.6).
func (n *Notify) Cookie() ([]byte, error) {
	if n.NotifyType != NotifyCookie {
		return nil, n.dataErr("is not a COOKIE")
	}
	if l := len(n.Data); l < 1 || l > 64 {
		return nil, n.dataErr("length %d outside 1..64", l)
	}
	return n.Data, nil
}

// DHGroup returns the group an INVALID_KE_PAYLOAD notification asks for
// (RFC 7296 §3.10.1: two octets).
func (n *Notify) DHGroup() (DHGroup, error) {
	if n.NotifyType != NotifyInvalidKEPayload {
		return 0, n.dataErr("is not INVALID_KE_PAYLOAD")
	}
	if len(n.Data) != 2 {
		return 0, n.dataErr("length %d, want 2", len(n.Data))
	}
	return DHGroup(binary.BigEndian.Uint16(n.Data)), nil
}

// NATDetectionHash returns the SHA-1 hash of a NAT_DETECTION_SOURCE_IP or
// NAT_DETECTION_DESTINATION_IP notification (RFC 7296 §2.23: 20 octets).
func (n *Notify) NATDetectionHash() ([]byte, error) {
	if n.NotifyType != NotifyNATDetectionSourceIP && n.NotifyType != NotifyNATDetectionDestinationIP {
		return nil, n.dataErr("is not a NAT detection notification")
	}
	if len(n.Data) != 20 {
		return nil, n.dataErr("length %d, want 20", len(n.Data))
	}
	return n.Data, nil
}

// HashAlgorithms returns the list of a SIGNATURE_HASH_ALGORITHMS notification
// (RFC 7427 §4: two octets each).
func (n *Notify) HashAlgorithms() ([]HashAlgorithm, error) {
	if n.NotifyType != NotifySignatureHashAlgorithms {
		return nil, n.dataErr("is not SIGNATURE_HASH_ALGORITHMS")
	}
	if len(n.Data)%2 != 0 {
		return nil, n.dataErr("odd length %d", len(n.Data))
	}
	hs := make([]HashAlgorithm, 0, len(n.Data)/2)
	for i := 0; i < len(n.Data); i += 2 {
		hs = append(hs, HashAlgorithm(binary.BigEndian.Uint16(n.Data[i:])))
	}
	return hs, nil
}

// NewHashAlgorithms returns a SIGNATURE_HASH_ALGORITHMS notification.
func NewHashAlgorithms(hs ...HashAlgorithm) *Notify {
	data := make([]byte, 0, 2*len(hs))
	for _, h := range hs {
		data = binary.BigEndian.AppendUint16(data, uint16(h))
	}
	return NewNotify(NotifySignatureHashAlgorithms, data)
}

// NewInvalidKE returns the INVALID_KE_PAYLOAD notification asking for g.
func NewInvalidKE(g DHGroup) *Notify {
	return NewNotify(NotifyInvalidKEPayload, binary.BigEndian.AppendUint16(nil, uint16(g)))
}

// NewUnsupportedCritical returns the UNSUPPORTED_CRITICAL_PAYLOAD
// notification for payload type t (RFC 7296 §3.10.1: one octet).
func NewUnsupportedCritical(t PayloadType) *Notify {
	return NewNotify(NotifyUnsupportedCriticalPayload, []byte{byte(t)})
}

// Delete is a D payload (RFC 7296 §3.11).
type Delete struct {
	// Protocol is IKE (SPIs empty: the SA the message is sent under), AH
	// or ESP (4-octet SPIs, the sender's inbound SPIs).
	Protocol ProtocolID
	SPIs     [][]byte
}

// Type returns PayloadDelete.
func (*Delete) Type() PayloadType { return PayloadDelete }

// deleteSPISize returns the SPI size RFC 7296 §3.11 requires for protocol p.
func deleteSPISize(p ProtocolID) (int, bool) {
	switch p {
	case ProtocolIKE:
		return 0, true
	case ProtocolAH, ProtocolESP:
		return 4, true
	}
	return 0, false
}

func decodeDelete(pt PayloadType, body []byte, base int) (Payload, error) {
	r := newReader(pt, body, base)
	proto, err := r.u8("protocol id")
	if err != nil {
		return nil, err
	}
	spiSize, err := r.u8("spi size")
	if err != nil {
		return nil, err
	}
	num, err := r.u16("num of spis")
	if err != nil {
		return nil, err
	}
	d := &Delete{Protocol: ProtocolID(proto)}
	want, ok := deleteSPISize(d.Protocol)
	switch {
	case !ok:
		return nil, r.errf(base, "protocol id", "%d, want IKE, AH or ESP", proto)
	case int(spiSize) != want:
		return nil, r.errf(base+1, "spi size", "%d, want %d for %s", spiSize, want, d.Protocol)
	case d.Protocol == ProtocolIKE && num != 0:
		return nil, r.errf(base+2, "num of spis", "%d, want 0 for IKE", num)
	case r.left() != int(num)*int(spiSize):
		return nil, r.errf(base+2, "num of spis", "%d of %d octets, but %d octets follow", num, spiSize, r.left())
	}
	d.SPIs = make([][]byte, num)
	for i := range d.SPIs {
		d.SPIs[i], _ = r.bytes(int(spiSize), "spi")
	}
	return d, nil
}

func (d *Delete) appendBody(b []byte) ([]byte, error) {
	want, ok := deleteSPISize(d.Protocol)
	switch {
	case !ok:
		return nil, encodeErr(PayloadDelete, "protocol id", "%d, want IKE, AH or ESP", d.Protocol)
	case d.Protocol == ProtocolIKE && len(d.SPIs) != 0:
		return nil, encodeErr(PayloadDelete, "num of spis", "%d, want 0 for IKE", len(d.SPIs))
	case len(d.SPIs) > 0xffff:
		return nil, encodeErr(PayloadDelete, "num of spis", "%d exceeds 65535", len(d.SPIs))
	}
	b = append(b, byte(d.Protocol), byte(want))
	b = append16(b, uint16(len(d.SPIs)))
	for _, spi := range d.SPIs {
		if len(spi) != want {
			return nil, encodeErr(PayloadDelete, "spi", "%d octets, want %d for %s", len(spi), want, d.Protocol)
		}
		b = append(b, spi...)
	}
	return b, nil
}
