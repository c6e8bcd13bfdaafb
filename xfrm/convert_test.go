package xfrm

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

func TestToNetlinkState(t *testing.T) {
	sa := sampleSA()
	sa.Lifetime.SoftUse = 1500 * time.Millisecond // rounds up to 2 s
	got := toNetlinkState(sa)
	want := &netlink.XfrmState{
		Src: net.ParseIP("2001:db8::1"), Dst: net.ParseIP("2001:db8::2"),
		Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TUNNEL,
		Spi: 0xc0ffee01, Reqid: int(testReqid), ReplayWindow: 32,
		Mark: &netlink.XfrmMark{Value: 1, Mask: 0xff},
		Limits: netlink.XfrmStateLimits{ByteSoft: 1 << 30, ByteHard: 1 << 31, TimeSoft: 3000, TimeHard: 3600,
			TimeUseSoft: 2},
		Aead: &netlink.XfrmStateAlgo{Name: "rfc7539esp(chacha20,poly1305)", Key: bytes.Repeat([]byte{7}, 36), ICVLen: 128},
		Encap: &netlink.XfrmStateEncap{Type: netlink.XFRM_ENCAP_ESPINUDP, SrcPort: 4500, DstPort: 4500,
			OriginalAddress: net.ParseIP("2001:db8::99")},
		Selector: &netlink.XfrmPolicy{
			Src: &net.IPNet{IP: net.IP{203, 0, 113, 0}, Mask: net.CIDRMask(24, 32)},
			Dst: &net.IPNet{IP: net.IP{198, 51, 100, 0}, Mask: net.CIDRMask(24, 32)},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}

	cbc := cbcSA()
	cbc.Integrity, cbc.IntegrityKey = IntegrityHMACSHA384_192, make([]byte, 48)
	ns := toNetlinkState(cbc)
	if ns.Crypt == nil || ns.Crypt.Name != "cbc(aes)" || ns.Aead != nil ||
		ns.Auth == nil || ns.Auth.Name != "hmac(sha384)" || ns.Auth.TruncateLen != 192 || ns.Selector != nil || ns.Mark != nil {
		t.Errorf("CBC SA converts to %+v", ns)
	}
}

func TestToNetlinkPolicy(t *testing.T) {
	// Transport templates without addresses get the selector's family.
	p := Policy{
		Selector:  Selector{Src: host(west6), Dst: pfx("2001:db8::5/32"), Proto: 17, DstPort: 500},
		Dir:       DirOut,
		Priority:  prioTrap,
		Templates: []Template{{Proto: ProtoESP, Mode: ModeTransport, Reqid: testReqid, Level: LevelUse}},
	}
	np := toNetlinkPolicy(p)
	if np.Dst.String() != "2001:db8::/32" || np.Src.String() != "2001:db8::1/128" || np.DstPort != 500 || np.Proto != 17 {
		t.Errorf("selector converts to src %s dst %s proto %d dport %d", np.Src, np.Dst, np.Proto, np.DstPort)
	}
	if len(np.Tmpls) != 1 || !np.Tmpls[0].Dst.Equal(net.IPv6zero) || np.Tmpls[0].Dst.To4() != nil ||
		np.Tmpls[0].Optional != 1 || np.Tmpls[0].Reqid != int(testReqid) {
		t.Errorf("template converts to %+v", np.Tmpls)
	}
	// A 6-in-4 tunnel template takes its endpoints' family.
	p.Templates = []Template{{Src: west4, Dst: east4, Proto: ProtoESP, Mode: ModeTunnel, Reqid: testReqid}}
	np = toNetlinkPolicy(p)
	if np.Tmpls[0].Dst.To4() == nil || np.Tmpls[0].Src.To4() == nil {
		t.Errorf("tunnel template converts to %+v", np.Tmpls[0])
	}
	if np.Action != netlink.XFRM_POLICY_ALLOW || np.Dir != netlink.XFRM_DIR_OUT || np.Priority != int(prioTrap) {
		t.Errorf("policy converts to %+v", np)
	}
}

func TestValidateSA(t *testing.T) {
	ok := []SA{cbcSA(), sampleSA()}
	gcm := cbcSA()
	gcm.Cipher, gcm.CipherKey, gcm.Integrity, gcm.IntegrityKey = CipherAESGCM256, make([]byte, 36), IntegrityNone, nil
	ok = append(ok, gcm)
	for _, sa := range ok {
		if err := sa.Validate(); err != nil {
			t.Errorf("%s: %v", sa, err)
		}
	}
	bad := map[string]func(*SA){
		"spi 0":                func(sa *SA) { sa.SPI = 0 },
		"spi 255":              func(sa *SA) { sa.SPI = 255 },
		"foreign reqid":        func(sa *SA) { sa.Reqid = 16384 },
		"mixed families":       func(sa *SA) { sa.Dst = east6 },
		"no dst":               func(sa *SA) { sa.Dst = netip.Addr{} },
		"short cbc key":        func(sa *SA) { sa.CipherKey = make([]byte, 15) },
		"short hmac key":       func(sa *SA) { sa.IntegrityKey = make([]byte, 16) },
		"cbc without hmac":     func(sa *SA) { sa.Integrity, sa.IntegrityKey = IntegrityNone, nil },
		"gcm with hmac":        func(sa *SA) { sa.Cipher, sa.CipherKey = CipherAESGCM128, make([]byte, 20) },
		"gcm key without salt": func(sa *SA) { sa.Cipher, sa.CipherKey, sa.Integrity = CipherAESGCM128, make([]byte, 16), 0 },
		"esp null":             func(sa *SA) { sa.Cipher, sa.CipherKey = CipherNone, nil },
		"ah with cipher":       func(sa *SA) { sa.Proto = ProtoAH },
		"proto comp":           func(sa *SA) { sa.Proto = 108 },
		"mode beet":            func(sa *SA) { sa.Mode = 4 },
		"window 64 no esn":     func(sa *SA) { sa.ReplayWindow = 64 },
		"esn window 0":         func(sa *SA) { sa.ESN, sa.ReplayWindow = true, 0 },
		"soft above hard":      func(sa *SA) { sa.Lifetime.SoftAdd, sa.Lifetime.HardAdd = time.Hour, time.Minute },
		"negative lifetime":    func(sa *SA) { sa.Lifetime.HardUse = -time.Second },
		"encap no port":        func(sa *SA) { sa.Encap = &Encap{SrcPort: 4500} },
		"bad selector":         func(sa *SA) { sa.Selector = Selector{Src: host(west4), Dst: host(east6)} },
	}
	for name, mutate := range bad {
		sa := cbcSA()
		mutate(&sa)
		err := sa.Validate()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		var inv *InvalidError
		if !errors.As(err, &inv) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%s: %v is not an *InvalidError matching EINVAL", name, err)
		}
	}
}

func TestValidatePolicy(t *testing.T) {
	bad := map[string]func(*Policy){
		"priority below band": func(p *Policy) { p.Priority = PriorityMin - 1 },
		"priority above band": func(p *Policy) { p.Priority = PriorityMax + 1 },
		"template reqid 0":    func(p *Policy) { p.Templates[0].Reqid = 0 },
		"block with template": func(p *Policy) { p.Action = ActionBlock },
		"no selector":         func(p *Policy) { p.Selector = Selector{} },
		"ports without proto": func(p *Policy) { p.Selector.DstPort = 53 },
		"mixed selector":      func(p *Policy) { p.Selector.Dst = pfx("2001:db8::/32") },
		"tunnel without dst":  func(p *Policy) { p.Templates[0].Mode = ModeTunnel },
		"transport family":    func(p *Policy) { p.Templates[0].Dst = east6 },
		"template proto":      func(p *Policy) { p.Templates[0].Proto = 108 },
		"dir socket":          func(p *Policy) { p.Dir = 3 },
		"action 2":            func(p *Policy) { p.Action = 2 },
		"4in6 selector":       func(p *Policy) { p.Selector = Selector{Src: pfx("::ffff:192.0.2.1/128"), Dst: pfx("::/0")} },
		"level 2":             func(p *Policy) { p.Templates[0].Level = 2 },
		"tunnel mixed family": func(p *Policy) {
			p.Templates[0] = Template{Src: west6, Dst: east4, Mode: ModeTunnel, Proto: ProtoESP, Reqid: testReqid}
		},
	}
	if err := trapPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range bad {
		p := trapPolicy()
		mutate(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOwnership(t *testing.T) {
	p := trapPolicy()
	if !OwnedPolicy(p) {
		t.Error("trap not owned")
	}
	p.Templates = append(p.Templates, Template{Proto: ProtoAH, Reqid: 16384})
	if OwnedPolicy(p) {
		t.Error("policy with a foreign template reqid owned")
	}
	if OwnedPolicy(Policy{Priority: 2000}) || !OwnedPolicy(Policy{Priority: PriorityMax}) {
		t.Error("template-less policies: band not applied")
	}
	if OwnedSA(SA{Reqid: ReqidMin - 1}) || !OwnedSA(SA{Reqid: ReqidMax}) || OwnedSA(SA{Reqid: ReqidMax + 1}) {
		t.Error("SA reqid range not applied")
	}
}

func TestErrorFormatting(t *testing.T) {
	sa := SA{Src: west4, Dst: east4, Proto: ProtoESP, SPI: 0x1234, Cipher: CipherAESGCM128}
	for _, tc := range []struct {
		err      error
		want     string
		errno    syscall.Errno
		notExist bool
		exist    bool
	}{
		{newOpError("add", stateObject(sa), explainStateErr(sa, syscall.EPROTONOSUPPORT)),
			"xfrm: add state esp spi 0x00001234 192.0.2.1->192.0.2.2: the kernel has no ESP support (module esp4/esp6 missing): protocol not supported",
			syscall.EPROTONOSUPPORT, false, false},
		{newOpError("add", stateObject(sa), explainStateErr(sa, syscall.ENOSYS)),
			"xfrm: add state esp spi 0x00001234 192.0.2.1->192.0.2.2: the kernel has no crypto algorithm rfc4106(gcm(aes)) (crypto module missing): function not implemented",
			syscall.ENOSYS, false, false},
		{newOpError("delete", stateIDObject(sa.ID()), stateErrno(syscall.ESRCH)),
			"xfrm: delete state esp spi 0x00001234 dst 192.0.2.2: no such SA: no such process",
			syscall.ESRCH, true, false},
		{newOpError("delete", policyObject(trapPolicy()), syscall.ENOENT),
			"xfrm: delete policy out src 192.0.2.1/32 dst 192.0.2.0/24 priority 0x0e001000: no such file or directory",
			syscall.ENOENT, true, false},
		{newOpError("add", policyObject(trapPolicy()), fmt.Errorf("wrapped: %w", syscall.EEXIST)),
			"xfrm: add policy out src 192.0.2.1/32 dst 192.0.2.0/24 priority 0x0e001000: wrapped: file exists",
			syscall.EEXIST, false, true},
		{newOpError("list", "states", nil), "", 0, false, false},
	} {
		if tc.want == "" {
			if tc.err != nil {
				t.Errorf("newOpError(nil) = %v", tc.err)
			}
			continue
		}
		if tc.err.Error() != tc.want {
			t.Errorf("got  %q\nwant %q", tc.err, tc.want)
		}
		var errno syscall.Errno
		if !errors.As(tc.err, &errno) || errno != tc.errno {
			t.Errorf("%q does not unwrap to %v", tc.err, tc.errno)
		}
		if errors.Is(tc.err, os.ErrNotExist) != tc.notExist || errors.Is(tc.err, os.ErrExist) != tc.exist {
			t.Errorf("%q: ErrNotExist %v ErrExist %v", tc.err, errors.Is(tc.err, os.ErrNotExist), errors.Is(tc.err, os.ErrExist))
		}
		var op *OpError
		if !errors.As(tc.err, &op) || !strings.HasPrefix(tc.err.Error(), "xfrm: "+op.Op+" "+op.Object) {
			t.Errorf("%q is not an *OpError", tc.err)
		}
	}
}

func TestAlgorithmNames(t *testing.T) {
	for _, tc := range []struct {
		c      Cipher
		s, k   string
		keyLen int
	}{
		{CipherAESGCM128, "aes-gcm-128", "rfc4106(gcm(aes))", 20},
		{CipherAESGCM256, "aes-gcm-256", "rfc4106(gcm(aes))", 36},
		{CipherChaCha20Poly1305, "chacha20-poly1305", "rfc7539esp(chacha20,poly1305)", 36},
		{CipherAESCBC128, "aes-cbc-128", "cbc(aes)", 16},
		{CipherAESCBC256, "aes-cbc-256", "cbc(aes)", 32},
		{CipherNone, "none", "", 0},
		{Cipher(99), "cipher-99", "", 0},
	} {
		if tc.c.String() != tc.s || tc.c.KernelName() != tc.k || tc.c.KeyLen() != tc.keyLen {
			t.Errorf("%d: %s %s %d", tc.c, tc.c, tc.c.KernelName(), tc.c.KeyLen())
		}
	}
	for _, tc := range []struct {
		i     Integrity
		s, k  string
		trunc int
	}{
		{IntegrityHMACSHA256_128, "hmac-sha256-128", "hmac(sha256)", 128},
		{IntegrityHMACSHA384_192, "hmac-sha384-192", "hmac(sha384)", 192},
		{IntegrityHMACSHA512_256, "hmac-sha512-256", "hmac(sha512)", 256},
	} {
		if tc.i.String() != tc.s || tc.i.KernelName() != tc.k || tc.i.TruncBits() != tc.trunc || tc.i.KeyLen()*4 != tc.trunc {
			t.Errorf("%d: %s %s %d", tc.i, tc.i, tc.i.KernelName(), tc.i.TruncBits())
		}
	}
	for _, s := range []fmt.Stringer{ProtoESP, ModeTunnel, DirFwd, ActionBlock, LevelUse, KindBypass} {
		if strings.Contains(s.String(), "-") {
			t.Errorf("%T %v has no name", s, s)
		}
	}
}

// TestKeysNeverFormatted: logging an SA by any verb shows no key material.
func TestKeysNeverFormatted(t *testing.T) {
	sa := sampleSA()
	sa.CipherKey = Key(bytes.Repeat([]byte{0xab}, 36))
	sa.Integrity, sa.IntegrityKey = IntegrityHMACSHA256_128, Key(bytes.Repeat([]byte{0xcd}, 32))
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%X", "%s", "%q", "%d"} {
		out := fmt.Sprintf(verb, sa) + fmt.Sprintf(verb, &sa) + fmt.Sprintf(verb, sa.CipherKey) + fmt.Sprintf(verb, []SA{sa})
		for _, secret := range []string{"abab", "ABAB", "cdcd", "CDCD", "171, 171", "171 171", "«"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows key material %q: %s", verb, secret, out)
			}
		}
	}
	if got := fmt.Sprint(sa.CipherKey); got != "[36-byte key]" {
		t.Errorf("key formats as %q", got)
	}
}
