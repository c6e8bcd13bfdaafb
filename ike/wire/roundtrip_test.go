package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const roundTripSeeds = 500

// TestRoundTrip checks encode -> decode -> equal for random valid messages,
// and that re-encoding the decoded message gives the same octets.
func TestRoundTrip(t *testing.T) {
	for seed := range uint64(roundTripSeeds) {
		m := newGen(seed).message()
		b := mustEncode(t, m)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("seed %d: Decode: %v\nmessage: %s", seed, err, dump(m))
		}
		if diff := cmp.Diff(m, got, cmpOpts); diff != "" {
			t.Fatalf("seed %d: round trip mismatch (-want +got):\n%s", seed, diff)
		}
		if b2 := mustEncode(t, got); !bytes.Equal(b, b2) {
			t.Fatalf("seed %d: re-encoding differs:\n%x\n%x", seed, b, b2)
		}
	}
}

// TestPayloadsRoundTrip does the same for inner payload chains.
func TestPayloadsRoundTrip(t *testing.T) {
	for seed := range uint64(roundTripSeeds) {
		ps := newGen(seed).payloads(10)
		first, b, err := EncodePayloads(ps)
		if err != nil {
			t.Fatalf("seed %d: EncodePayloads: %v", seed, err)
		}
		got, err := DecodePayloads(first, b)
		if err != nil {
			t.Fatalf("seed %d: DecodePayloads: %v", seed, err)
		}
		if diff := cmp.Diff(ps, got, cmpOpts); diff != "" {
			t.Fatalf("seed %d: round trip mismatch (-want +got):\n%s", seed, diff)
		}
	}
}

// TestNoStrictPrefixParses checks that no proper prefix of a valid message
// decodes, neither as is nor with the Length field patched to match (which
// exercises every payload decoder's own bounds checks), and likewise for
// inner payload chains.
func TestNoStrictPrefixParses(t *testing.T) {
	var msgs [][]byte
	for seed := range uint64(100) {
		msgs = append(msgs, mustEncode(t, newGen(seed).message()))
	}
	for _, p := range realisticMessages(t) {
		msgs = append(msgs, p.b)
	}
	for i, b := range msgs {
		for k := range len(b) {
			prefix := bytes.Clone(b[:k])
			if _, err := Decode(prefix); err == nil {
				t.Fatalf("message %d: prefix of %d/%d octets decoded", i, k, len(b))
			}
			if k < HeaderLen {
				continue
			}
			binary.BigEndian.PutUint32(prefix[24:], uint32(k))
			if m, err := Decode(prefix); err == nil {
				t.Fatalf("message %d: prefix of %d/%d octets with patched length decoded: %s", i, k, len(b), dump(m))
			} else if !isWireError(err) {
				t.Fatalf("message %d: prefix %d: untyped error %v", i, k, err)
			}
		}
	}
	for seed := range uint64(100) {
		first, b, err := EncodePayloads(newGen(seed).payloads(8))
		if err != nil {
			t.Fatal(err)
		}
		for k := range len(b) {
			if ps, err := DecodePayloads(first, b[:k]); err == nil {
				t.Fatalf("seed %d: inner prefix of %d/%d octets decoded: %v", seed, k, len(b), ps)
			}
		}
	}
}

// TestDecodeDoesNotAlias checks the documented copy: scribbling over the
// input after Decode leaves the message unchanged.
func TestDecodeDoesNotAlias(t *testing.T) {
	m := newGen(7).message()
	m.Payloads = append([]Payload{&Nonce{Data: bytes.Repeat([]byte{0xab}, 32)}}, m.Payloads...)
	b := mustEncode(t, m)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if diff := cmp.Diff(m, got, cmpOpts); diff != "" {
		t.Fatalf("decoded message changed with its input (-want +got):\n%s", diff)
	}
	// Appending to a decoded slice must not clobber the next field.
	n := got.Payloads[0].(*Nonce)
	_ = append(n.Data, 1, 2, 3)
	if diff := cmp.Diff(m, got, cmpOpts); diff != "" {
		t.Fatalf("append to a decoded slice changed the message (-want +got):\n%s", diff)
	}
}

func isWireError(err error) bool {
	var we *Error
	return errors.As(err, &we)
}

func dump(m *Message) string {
	s := fmt.Sprintf("%+v", m.Header)
	for _, p := range m.Payloads {
		s += fmt.Sprintf("\n  %s %+v", p.Type(), p)
	}
	return s
}
