package wire

import (
	"encoding/binary"
	"strings"
)

// HeaderLen is the length of the fixed IKE header (RFC 7296 §3.1).
const HeaderLen = 28

// MaxMessageLen is the largest message Encode produces: the most a UDP
// datagram over IPv6 without jumbograms can carry. Decode does not enforce
// it; the datagram length bounds its input.
const MaxMessageLen = 65535 - 8

// Flags are the header flags (RFC 7296 §3.1). Bits other than I, V and R are
// cleared on decode and never sent.
type Flags uint8

// Header flags.
const (
	FlagInitiator Flags = 0x08 // I: sent by the original initiator of the IKE SA
	FlagVersion   Flags = 0x10 // V: sender could speak a higher major version
	FlagResponse  Flags = 0x20 // R: this message is a response
	flagsKnown          = FlagInitiator | FlagVersion | FlagResponse
)

// String returns the set flags as "I|R", or "0" if none are set.
func (f Flags) String() string {
	var s []string
	if f&FlagInitiator != 0 {
		s = append(s, "I")
	}
	if f&FlagVersion != 0 {
		s = append(s, "V")
	}
	if f&FlagResponse != 0 {
		s = append(s, "R")
	}
	if len(s) == 0 {
		return "0"
	}
	return strings.Join(s, "|")
}

// Header is the fixed IKE header (RFC 7296 §3.1), without the Next Payload
// and Length fields, which Encode computes from the payloads. The version is
// always 2.0 on output; Decode rejects other major versions and ignores the
// minor version.
type Header struct {
	SPIi      uint64 // IKE SA Initiator's SPI; never zero in a valid message
	SPIr      uint64 // IKE SA Responder's SPI; zero in the IKE_SA_INIT request
	Exchange  ExchangeType
	Flags     Flags
	MessageID uint32
}

// IsResponse reports whether the R flag is set.
func (h Header) IsResponse() bool { return h.Flags&FlagResponse != 0 }

// IsInitiator reports whether the I flag is set, i.e. the sender is the
// original initiator of the IKE SA.
func (h Header) IsInitiator() bool { return h.Flags&FlagInitiator != 0 }

// ParseHeader decodes the fixed header at the start of b, returning it with
// the first payload type and the message Length field. It checks the major
// version but does not compare Length with len(b), so that a transport can
// route a datagram (e.g. by SPI) before deciding what to do with it. Decode
// does the full checks.
func ParseHeader(b []byte) (h Header, first PayloadType, length int, err error) {
	if len(b) < HeaderLen {
		return Header{}, 0, 0, decodeErr(ErrTruncated, PayloadNone, 0, "header", "needs %d octets, have %d", HeaderLen, len(b))
	}
	h.SPIi = binary.BigEndian.Uint64(b[0:])
	if h.SPIi == 0 {
		return Header{}, 0, 0, decodeErr(ErrInvalid, PayloadNone, 0, "initiator SPI", "is zero")
	}
	h.SPIr = binary.BigEndian.Uint64(b[8:])
	first = PayloadType(b[16])
	if major := b[17] >> 4; major != 2 {
		return Header{}, 0, 0, decodeErr(ErrMajorVersion, PayloadNone, 17, "major version", "%d, want 2", major)
	}
	h.Exchange = ExchangeType(b[18])
	h.Flags = Flags(b[19]) & flagsKnown
	h.MessageID = binary.BigEndian.Uint32(b[20:])
	length = int(binary.BigEndian.Uint32(b[24:]))
	if length < HeaderLen {
		return Header{}, 0, 0, decodeErr(ErrInvalid, PayloadNone, 24, "message length", "%d shorter than the header", length)
	}
	return h, first, length, nil
}

// appendHeader appends h with the given first payload type and a zero
// length, to be back-patched by the caller at b[start+24:].
func appendHeader(b []byte, h Header, first PayloadType) []byte {
	b = binary.BigEndian.AppendUint64(b, h.SPIi)
	b = binary.BigEndian.AppendUint64(b, h.SPIr)
	b = append(b, byte(first), 0x20, byte(h.Exchange), byte(h.Flags&flagsKnown))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return append(b, 0, 0, 0, 0)
}
