package wire

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzDecodeMessage from the realistic packets")

// seedFile is the go test fuzz v1 corpus encoding of one []byte argument.
func seedFile(b []byte) []byte { return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b) }

// TestFuzzSeedsUpToDate keeps testdata/fuzz/FuzzDecodeMessage in step with
// realisticMessages (run with -update-seeds after changing them). Captures
// from real peers can be added to the same directory under other names.
func TestFuzzSeedsUpToDate(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeMessage")
	for _, p := range realisticMessages(t) {
		path := filepath.Join(dir, p.name)
		want := seedFile(p.b)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeedsUpToDate -update-seeds)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run go test -run TestFuzzSeedsUpToDate -update-seeds)", path)
		}
	}
}

// checkReencode asserts the decode -> encode -> decode -> encode fixed point
// for a successfully decoded message.
func checkReencode(t *testing.T, b []byte, m *Message) {
	b2, err := m.Encode()
	if err != nil {
		if len(b) > MaxMessageLen {
			return
		}
		t.Fatalf("decoded message does not re-encode: %v\n%s", err, dump(m))
	}
	m2, err := Decode(b2)
	if err != nil {
		t.Fatalf("re-encoded message does not decode: %v\n%x", err, b2)
	}
	if !cmp.Equal(m, m2, cmpOpts) {
		t.Fatalf("decode(encode(m)) != m (-m +m2):\n%s", cmp.Diff(m, m2, cmpOpts))
	}
	if b3 := mustEncode(t, m2); !bytes.Equal(b2, b3) {
		t.Fatalf("encoding is not stable:\n%x\n%x", b2, b3)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(mustEncode(f, newGen(seed).message()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		checkReencode(t, b, m)
		var data []byte
		var last Payload
		if len(m.Payloads) > 0 {
			last = m.Payloads[len(m.Payloads)-1]
		}
		switch p := last.(type) {
		case *Encrypted:
			data = p.Data
		case *EncryptedFragment:
			data = p.Data
		default:
			if _, err := LocateSK(b, 0, 0); err == nil {
				t.Fatal("LocateSK found an SK payload Decode did not")
			}
			return
		}
		l, err := LocateSK(b, 0, 0)
		if err != nil {
			t.Fatalf("LocateSK: %v", err)
		}
		if !bytes.Equal(b[l.IV:l.End], data) || l.ICV != l.End || l.Ciphertext != l.IV {
			t.Fatalf("LocateSK %+v disagrees with decoded data of %d octets", l, len(data))
		}
	})
}

func FuzzDecodePayloads(f *testing.F) {
	for _, ps := range [][]Payload{ikeAuthInner(), newGen(1).payloads(6), newGen(2).payloads(6)} {
		first, b, err := EncodePayloads(ps)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(first), b)
	}
	f.Fuzz(func(t *testing.T, first uint8, b []byte) {
		ps, err := DecodePayloads(PayloadType(first), b)
		if err != nil {
			if !isWireError(err) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		first2, b2, err := EncodePayloads(ps)
		if err != nil {
			t.Fatalf("decoded chain does not re-encode: %v", err)
		}
		ps2, err := DecodePayloads(first2, b2)
		if err != nil {
			t.Fatalf("re-encoded chain does not decode: %v", err)
		}
		if !cmp.Equal(ps, ps2, cmpOpts) {
			t.Fatalf("(-first +second):\n%s", cmp.Diff(ps, ps2, cmpOpts))
		}
	})
}

// fuzzBody runs one payload body decoder under the same fixed-point check.
func fuzzBody(t *testing.T, pt PayloadType, dec decoderFunc, b []byte) {
	p, err := dec(pt, b, 0)
	if err != nil {
		if !isWireError(err) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		return
	}
	b2, err := p.appendBody(nil)
	if err != nil {
		t.Fatalf("decoded %v does not re-encode: %v", pt, err)
	}
	p2, err := dec(pt, b2, 0)
	if err != nil {
		t.Fatalf("re-encoded %v does not decode: %v\n%x", pt, err, b2)
	}
	if !cmp.Equal(p, p2, cmpOpts) {
		t.Fatalf("(-first +second):\n%s", cmp.Diff(p, p2, cmpOpts))
	}
}

func addBodies(f *testing.F, pt PayloadType, ps ...Payload) {
	for _, p := range ps {
		if p.Type() != pt {
			continue
		}
		b, err := p.appendBody(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzTrafficSelectors(f *testing.F) {
	addBodies(f, PayloadTSi, ikeAuthInner()...)
	for seed := range uint64(8) {
		addBodies(f, PayloadTSi, newGen(seed).ts())
	}
	f.Add(hx("01000000 0a000008 deadbeef"))
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, PayloadTSi, decodeTS, b) })
}

func FuzzSA(f *testing.F) {
	addBodies(f, PayloadSA, ikeAuthInner()...)
	addBodies(f, PayloadSA, strongSwanInitRequest().Payloads...)
	addBodies(f, PayloadSA, libreswanInitRequest().Payloads...)
	for seed := range uint64(8) {
		addBodies(f, PayloadSA, newGen(seed).sa())
	}
	f.Fuzz(func(t *testing.T, b []byte) { fuzzBody(t, PayloadSA, decodeSA, b) })
}

// FuzzPayloadBody feeds every other body decoder (ID, N, D, CP, KE, ...).
func FuzzPayloadBody(f *testing.F) {
	for _, p := range append(ikeAuthInner(), strongSwanInitResponse().Payloads...) {
		b, err := p.appendBody(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(p.Type()), b)
	}
	f.Add(uint8(PayloadDelete), hx("03040002 01020304 05060708"))
	f.Add(uint8(PayloadCP), hx("01000000 00010000 00030004 c0000201"))
	f.Fuzz(func(t *testing.T, pt uint8, b []byte) {
		dec, ok := decoders[PayloadType(pt)]
		if !ok {
			return
		}
		fuzzBody(t, PayloadType(pt), dec, b)
	})
}
