package wire

import "testing"

func BenchmarkEncodeIKESAInit(b *testing.B) {
	m := strongSwanInitRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeIKESAInit(b *testing.B) {
	msg := mustEncode(b, strongSwanInitRequest())
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeIKEAuthInner(b *testing.B) {
	ps := ikeAuthInner()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodePayloads(ps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeIKEAuthInner(b *testing.B) {
	first, pt, err := EncodePayloads(ikeAuthInner())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePayloads(first, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSK(b *testing.B) {
	h := Header{SPIi: 1, SPIr: 2, Exchange: ExchangeIKEAuth, Flags: FlagInitiator, MessageID: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodeSK(h, nil, PayloadIDi, 8, 400, 16); err != nil {
			b.Fatal(err)
		}
	}
}
