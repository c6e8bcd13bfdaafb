package xfrm

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var addrOpts = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func sampleAcquire() *Acquire {
	return &Acquire{
		Src: west4, Dst: east4, Proto: ProtoESP,
		Selector: Selector{Src: host(west4), Dst: host(east4), Proto: 17, SrcPort: 40001, DstPort: 4242},
		Policy: Policy{Selector: Selector{Src: host(west4), Dst: pfx("192.0.2.0/24")}, Dir: DirOut,
			Priority: prioTrap, Index: 0x29},
		Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid}},
		Seq:       7, AAlgos: ^uint32(0), EAlgos: ^uint32(0), CAlgos: ^uint32(0),
	}
}

// TestDecodeAcquireHandBuilt decodes an ACQUIRE built field by field at the
// offsets of linux/xfrm.h, independently of encodeAcquire.
func TestDecodeAcquireHandBuilt(t *testing.T) {
	b := make([]byte, 280)
	copy(b[0:], []byte{192, 0, 2, 2})            // id.daddr
	b[20] = 50                                   // id.proto
	copy(b[24:], []byte{192, 0, 2, 1})           // saddr
	copy(b[40:], []byte{192, 0, 2, 2})           // sel.daddr
	copy(b[56:], []byte{192, 0, 2, 1})           // sel.saddr
	copy(b[72:], []byte{0x10, 0x92, 0xff, 0xff}) // dport 4242, mask
	copy(b[76:], []byte{0x9c, 0x41, 0xff, 0xff}) // sport 40001, mask
	ne.PutUint16(b[80:], 2)                      // family
	b[82], b[83], b[84] = 32, 32, 17             // prefixlens, proto
	copy(b[96:], []byte{192, 0, 2, 0})           // policy.sel.daddr
	copy(b[112:], []byte{192, 0, 2, 1})          // policy.sel.saddr
	ne.PutUint16(b[136:], 2)
	b[138], b[139] = 24, 32
	for off := 152; off < 184; off += 8 {
		ne.PutUint64(b[off:], xfrmInf) // policy.lft byte and packet limits
	}
	ne.PutUint32(b[248:], prioTrap) // policy.priority
	ne.PutUint32(b[252:], 0x29)     // policy.index
	b[256] = 1                      // policy.dir out
	for _, off := range []int{264, 268, 272} {
		ne.PutUint32(b[off:], ^uint32(0))
	}
	ne.PutUint32(b[276:], 7) // seq
	tmpl := make([]byte, 64)
	tmpl[20] = 50
	ne.PutUint16(tmpl[24:], 2)
	ne.PutUint32(tmpl[44:], testReqid)
	b = appendAttr(b, xfrmaTmpl, tmpl)
	b = appendAttr(b, xfrmaPolicyType, []byte{0, 0, 0, 0, 0, 0})

	got, err := decodeAcquire(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleAcquire(), got, addrOpts); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if got.Reqid() != testReqid {
		t.Errorf("Reqid() = 0x%x, want 0x%x", got.Reqid(), testReqid)
	}
	if !bytes.Equal(encodeAcquire(got)[:280], b[:280]) {
		t.Errorf("encodeAcquire does not reproduce the hand-built fixed part")
	}
}

// TestDecodeAcquireKernelSeeds decodes the ACQUIREs captured from the
// kernel (TestNetnsAcquireOnTrap -capture) and checks what they say.
func TestDecodeAcquireKernelSeeds(t *testing.T) {
	for _, tc := range []struct {
		file     string
		src, dst netip.Addr
	}{{"kernel-ipv4", west4, east4}, {"kernel-ipv6", west6, east6}} {
		b := readSeed(t, "FuzzDecodeAcquire", tc.file)
		a, err := decodeAcquire(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if a.Src != tc.src || a.Dst != tc.dst || a.Proto != ProtoESP || a.Selector.DstPort != 4242 ||
			a.Selector.SrcPort != 40001 || a.Selector.Proto != 17 || len(a.Templates) != 1 ||
			!OwnedReqid(a.Templates[0].Reqid) || a.Policy.Dir != DirOut || !OwnedPriority(a.Policy.Priority) {
			t.Errorf("%s decodes to %+v", tc.file, a)
		}
	}
}

// readSeed reads a []byte seed from testdata/fuzz/<target>/<name>.
func readSeed(t *testing.T, target, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s/%s is not a []byte seed", target, name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func TestDecodeAcquireRejects(t *testing.T) {
	good := encodeAcquire(sampleAcquire())
	// Every cut inside the fixed part or inside an attribute fails.
	for n := 0; n < len(good); n++ {
		if n == 280 {
			continue // the fixed part alone is a valid ACQUIRE without attributes
		}
		if _, err := decodeAcquire(good[:n]); err == nil {
			t.Errorf("prefix of %d octets decoded", n)
		}
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"family 0":        mutate(func(b []byte) []byte { ne.PutUint16(b[80:], 0); return b }),
		"family 99":       mutate(func(b []byte) []byte { ne.PutUint16(b[80:], 99); return b }),
		"v4 prefix 33":    mutate(func(b []byte) []byte { b[82] = 33; return b }),
		"tmpl length":     append(good[:280:280], appendAttr(nil, xfrmaTmpl, make([]byte, 63))...),
		"tmpl twice":      appendAttr(bytes.Clone(good), xfrmaTmpl, make([]byte, 64)),
		"tmpl family":     mutate(func(b []byte) []byte { ne.PutUint16(b[280+4+24:], 77); return b }),
		"tmpl optional 2": mutate(func(b []byte) []byte { b[280+4+50] = 2; return b }),
		"attr len 2":      append(bytes.Clone(good), 2, 0, 1, 0),
		"attr overrun":    append(bytes.Clone(good), 200, 0, 1, 0, 0, 0, 0, 0),
		"mark length":     appendAttr(bytes.Clone(good), xfrmaMark, make([]byte, 4)),
	} {
		if a, err := decodeAcquire(b); err == nil {
			t.Errorf("%s: decoded %+v", name, a)
		} else if !strings.HasPrefix(err.Error(), "acquire: ") {
			t.Errorf("%s: error %q lacks context", name, err)
		}
	}
	// Unknown attributes (newer kernels) and nested flags are skipped.
	b := appendAttr(bytes.Clone(good), 0x8000|200, []byte{1, 2, 3})
	if _, err := decodeAcquire(b); err != nil {
		t.Errorf("unknown attribute: %v", err)
	}
}

func sampleSA() SA {
	return SA{
		Src: west6, Dst: east6, Proto: ProtoESP, SPI: 0xc0ffee01, Mode: ModeTunnel, Reqid: testReqid,
		Cipher: CipherChaCha20Poly1305, CipherKey: bytes.Repeat([]byte{7}, 36),
		ReplayWindow: 32,
		Lifetime:     Lifetime{SoftBytes: 1 << 30, HardBytes: 1 << 31, SoftAdd: 3000 * time.Second, HardAdd: 3600 * time.Second},
		Mark:         Mark{Value: 1, Mask: 0xff},
		Encap:        &Encap{SrcPort: 4500, DstPort: 4500, OrigAddr: netip.MustParseAddr("2001:db8::99")},
		Selector:     Selector{Src: pfx("203.0.113.0/24"), Dst: pfx("198.51.100.0/24")},
		Stats: SAStats{Bytes: 1234, Packets: 5, AddTime: time.Unix(1700000000, 0), UseTime: time.Unix(1700000009, 0),
			Replay: 1},
	}
}

func TestDecodeStateMsg(t *testing.T) {
	for _, sa := range []SA{
		sampleSA(),
		{Src: west4, Dst: east4, Proto: ProtoESP, SPI: 0x1000, Mode: ModeTransport, Reqid: testReqid,
			Cipher: CipherAESCBC256, CipherKey: bytes.Repeat([]byte{1}, 32),
			Integrity: IntegrityHMACSHA512_256, IntegrityKey: bytes.Repeat([]byte{2}, 64),
			ReplayWindow: 1024, ESN: true},
		{Src: west4, Dst: east4, Proto: ProtoAH, SPI: 0x1001, Mode: ModeTransport, Reqid: testReqid,
			Integrity: IntegrityHMACSHA384_192, IntegrityKey: bytes.Repeat([]byte{3}, 48)},
	} {
		got, err := decodeStateMsg(encodeStateMsg(sa))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sa, got, addrOpts); diff != "" {
			t.Errorf("%s: round trip mismatch (-want +got):\n%s", sa, diff)
		}
	}
	// An algorithm oe-agent does not use reads back as none, not an error.
	b := make([]byte, sizeofUsersaInfo)
	encodeUsersaInfo(b, SA{Src: west4, Dst: east4, Proto: ProtoESP, SPI: 0x1002}, 0)
	b = appendAttr(b, xfrmaAlgCrypt, encodeAlgo("cbc(des3_ede)", make([]byte, 24), 0, false))
	if sa, err := decodeStateMsg(b); err != nil || sa.Cipher != CipherNone || sa.CipherKey != nil {
		t.Errorf("3DES SA: %v, %+v", err, sa)
	}
	// A key length running past the attribute is rejected.
	bad := encodeAlgo("cbc(aes)", make([]byte, 16), 0, false)
	ne.PutUint32(bad[64:], 256)
	b = appendAttr(b[:sizeofUsersaInfo], xfrmaAlgCrypt, bad)
	if _, err := decodeStateMsg(b); err == nil {
		t.Error("overlong key decoded")
	}
}

func TestDecodeExpire(t *testing.T) {
	sa := sampleSA()
	sa.CipherKey, sa.Cipher, sa.Encap = nil, CipherNone, nil // EXPIRE carries no algorithms
	for _, hard := range []bool{false, true} {
		want := &Expire{SA: sa, Hard: hard}
		got, err := decodeExpire(encodeExpire(want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, addrOpts); diff != "" {
			t.Errorf("hard=%v mismatch (-want +got):\n%s", hard, diff)
		}
	}
	b := encodeExpire(&Expire{SA: sa})
	b[sizeofUsersaInfo] = 2
	if _, err := decodeExpire(b); err == nil {
		t.Error("hard flag 2 decoded")
	}
	if _, err := decodeExpire(b[:231]); err == nil {
		t.Error("short expire decoded")
	}
	b = encodeExpire(&Expire{SA: sa})
	ne.PutUint16(b[212:], 3) // family
	if _, err := decodeExpire(b); err == nil {
		t.Error("unknown family decoded")
	}
}

func TestDecodePolicyMsg(t *testing.T) {
	p := Policy{
		Selector: Selector{Src: pfx("2001:db8:1::/48"), Dst: pfx("2001:db8::/32"), Proto: 6, DstPort: 443},
		Dir:      DirFwd, Priority: prioTrap, Index: 0x42, Mark: Mark{Value: 3, Mask: 3},
		Templates: []Template{
			{Proto: ProtoESP, Mode: ModeTunnel, Src: east6, Dst: west6, Reqid: testReqid, SPI: 9},
			{Proto: ProtoAH, Mode: ModeTransport, Reqid: testReqid + 1, Level: LevelUse},
		},
	}
	got, ok, err := decodePolicyMsg(encodePolicyMsg(p))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if diff := cmp.Diff(p, got, addrOpts); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	sub := appendAttr(encodePolicyMsg(p), xfrmaPolicyType, []byte{1, 0, 0, 0, 0, 0})
	if _, ok, err := decodePolicyMsg(sub); err != nil || ok {
		t.Errorf("sub policy: ok %v err %v, want skipped", ok, err)
	}
}

func TestEncodeSocketBypass(t *testing.T) {
	for _, is4 := range []bool{true, false} {
		b := encodeSocketBypass(DirOut, is4)
		if len(b) != 168 {
			t.Fatalf("xfrm_userpolicy_info is %d octets, want 168", len(b))
		}
		fam := ne.Uint16(b[40:])
		if (is4 && fam != 2) || (!is4 && fam != 10) {
			t.Errorf("is4=%v: selector family %d", is4, fam)
		}
		if b[160] != 1 || b[161] != 0 || b[42] != 0 || b[43] != 0 {
			t.Errorf("dir %d action %d prefixes %d/%d", b[160], b[161], b[42], b[43])
		}
		for off := 56; off < 88; off += 8 {
			if ne.Uint64(b[off:]) != xfrmInf {
				t.Errorf("lifetime limit at %d not infinite", off)
			}
		}
	}
}

// TestDecodeExpireKernelSeeds decodes the soft and hard EXPIREs captured in
// the vm tier (TestVMExpire) for cbcSA with 2 s / 3 s lifetimes.
func TestDecodeExpireKernelSeeds(t *testing.T) {
	for _, hard := range []bool{false, true} {
		b := readSeed(t, "FuzzDecodeExpire", "kernel-hard-"+strconv.FormatBool(hard))
		e, err := decodeExpire(b)
		if err != nil {
			t.Fatal(err)
		}
		want := cbcSA()
		if e.Hard != hard || e.SA.SPI != want.SPI || e.SA.Src != want.Src || e.SA.Dst != want.Dst ||
			e.SA.Reqid != want.Reqid || e.SA.Proto != ProtoESP || e.SA.Mode != ModeTransport ||
			e.SA.Lifetime.SoftAdd != 2*time.Second || e.SA.Lifetime.HardAdd != 3*time.Second ||
			e.SA.Stats.AddTime.IsZero() || e.SA.ReplayWindow != 32 {
			t.Errorf("hard=%v seed decodes to %+v", hard, e)
		}
	}
}

// TestDecodeStateKernelSeeds decodes the state dump captured in the vm
// tier (TestVMCleanupLeavesForeignState): the SAs it added, of every kind,
// and the two foreign ones.
func TestDecodeStateKernelSeeds(t *testing.T) {
	found := map[string]bool{}
	for i := range 6 {
		sa, err := decodeStateMsg(readSeed(t, "FuzzDecodeStateMsg", "kernel-"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case sa.Reqid == 16384 && sa.Cipher == CipherAESGCM128 && sa.SPI == 0x5000:
			found["foreign gcm"] = true
		case sa.Reqid == ReqidMax+1 && sa.Mode == ModeTunnel && sa.Integrity == IntegrityHMACSHA256_128:
			found["foreign cbc tunnel"] = true
		case sa.Cipher == CipherAESGCM256 && sa.ESN && sa.ReplayWindow == 128 && sa.Mark == (Mark{0x10, 0xff}) &&
			sa.Encap != nil && sa.Encap.DstPort == 4501 && sa.Lifetime.HardPackets == 2000 && sa.Lifetime.SoftUse == 30*time.Minute:
			found["gcm esn mark encap"] = true
		case sa.Proto == ProtoAH && sa.Integrity == IntegrityHMACSHA512_256 && len(sa.IntegrityKey) == 64:
			found["ah"] = true
		case sa.Mode == ModeTunnel && sa.Selector.DstPort == 443 && sa.Selector.Dst == pfx("203.0.113.0/24"):
			found["tunnel selector"] = true
		case sa.Cipher == CipherAESCBC128 && sa.Integrity == IntegrityHMACSHA256_128 && sa.ReplayWindow == 32:
			found["cbc"] = true
		default:
			t.Errorf("seed %d decodes to an unexpected SA: %+v", i, sa)
		}
	}
	if len(found) != 6 {
		t.Errorf("found %v, want all six kinds", found)
	}
}
