package oe

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/oe-agent/oe-agent/trap"
)

var (
	t0    = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	west  = netip.MustParseAddr("192.0.2.1")
	east  = netip.MustParseAddr("192.0.2.2")
	other = netip.MustParseAddr("192.0.2.3")
	key   = ed25519.PublicKey(make([]byte, 32))
)

func types(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, reflect.TypeOf(a).Name())
	}
	return out
}

func wantTypes(t *testing.T, acts []Action, want ...string) {
	t.Helper()
	if got := types(acts); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func onlyEntry(t *testing.T, e *Engine) trap.Peer {
	t.Helper()
	es := e.Entries()
	if len(es) != 1 {
		t.Fatalf("entries %+v, want one", es)
	}
	return es[0]
}

func TestSecureKeyBringsSAUp(t *testing.T) {
	e := New(Config{})
	acts := e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear, Seq: 7})
	wantTypes(t, acts, "Lookup", "Initiate", "PoliciesChanged")
	ini := acts[1].(Initiate)
	if ini.Seq != 7 || ini.Remote != east || ini.Reqid == 0 || ini.AllowNull {
		t.Fatalf("Initiate %+v", ini)
	}
	// While negotiating, a hold entry (a template with the coming SA's
	// reqid) queues the peer's packets in a kernel queue of their own.
	if en := onlyEntry(t, e); en.Action != trap.PeerHold || en.Reqid != ini.Reqid {
		t.Fatalf("negotiating entry %+v, want a hold with reqid %#x", en, ini.Reqid)
	}
	acts = e.Handle(t0.Add(10*time.Millisecond), KeyResult{Remote: east, Outcome: KeySecure, Key: key, Detail: "dns secure"})
	wantTypes(t, acts, "Supply")
	acts = e.Handle(t0.Add(50*time.Millisecond), Negotiated{Local: west, Remote: east, Reqid: ini.Reqid, Initiator: true})
	wantTypes(t, acts, "PoliciesChanged")
	en := onlyEntry(t, e)
	if en.Action != trap.PeerIPsec || en.Reqid != ini.Reqid || en.Remote != east {
		t.Fatalf("entry %+v", en)
	}
	if p := e.Peers()[0]; p.State != Up || p.KeyDetail != "dns secure" {
		t.Fatalf("peer %+v", p)
	}
	// A second ACQUIRE for the same peer (another flow) changes nothing.
	wantTypes(t, e.Handle(t0.Add(time.Second), Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear}))
}

func TestDenialFallsBackPerGroup(t *testing.T) {
	for _, tc := range []struct {
		group trap.Group
		want  trap.PeerAction
	}{{trap.GroupPrivateOrClear, trap.PeerPass}, {trap.GroupPrivate, trap.PeerDrop}} {
		t.Run(tc.group.String(), func(t *testing.T) {
			e := New(Config{})
			e.Handle(t0, Acquire{Local: west, Remote: east, Group: tc.group})
			acts := e.Handle(t0, KeyResult{Remote: east, Outcome: KeyDenied, Detail: "NSEC proves no IPSECKEY"})
			wantTypes(t, acts, "Abort", "PoliciesChanged")
			en := onlyEntry(t, e)
			if en.Action != tc.want || !en.Expires.Equal(t0.Add(15*time.Minute)) {
				t.Fatalf("entry %+v", en)
			}
			if d := e.Deadline(); !d.Equal(en.Expires) {
				t.Fatalf("deadline %v", d)
			}
			wantTypes(t, e.Tick(t0.Add(14*time.Minute)))
			wantTypes(t, e.Tick(t0.Add(15*time.Minute)), "PoliciesChanged")
			if len(e.Entries()) != 0 || len(e.Peers()) != 0 {
				t.Fatal("shunt did not expire back to the trap")
			}
		})
	}
}

func TestBogusAndIndeterminateNeverClear(t *testing.T) {
	for _, g := range []trap.Group{trap.GroupPrivateOrClear, trap.GroupPrivate} {
		for _, o := range []KeyOutcome{KeyBogus, KeyIndeterminate} {
			e := New(Config{AuthNull: true})
			e.Handle(t0, Acquire{Local: west, Remote: east, Group: g})
			acts := e.Handle(t0, KeyResult{Remote: east, Outcome: o, Detail: "RRSIG expired"})
			wantTypes(t, acts, "Abort", "PoliciesChanged")
			if en := onlyEntry(t, e); en.Action != trap.PeerDrop || !en.Expires.Equal(t0.Add(time.Minute)) {
				t.Fatalf("%s/%s: entry %+v, want a drop shunt for the retry lifetime", g, o, en)
			}
		}
	}
}

func TestFailedNegotiationShunts(t *testing.T) {
	e := New(Config{})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivate})
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeySecure, Key: key})
	wantTypes(t, e.Handle(t0, Failed{Local: west, Remote: east, Err: errors.New("AUTHENTICATION_FAILED")}), "PoliciesChanged")
	if en := onlyEntry(t, e); en.Action != trap.PeerDrop || en.Reason != "negotiation failed: AUTHENTICATION_FAILED" {
		t.Fatalf("entry %+v", en)
	}
	if e.Counters().Failures != 1 {
		t.Fatal("failure not counted")
	}
}

// TestClosedWhileNegotiatingFails: the peer authenticated, refused the
// Child SA and deleted the IKE SA. The negotiation has failed: the group's
// failure shunt goes in now, not at the negotiation timeout.
func TestClosedWhileNegotiatingFails(t *testing.T) {
	for _, tc := range []struct {
		group trap.Group
		want  trap.PeerAction
	}{{trap.GroupPrivateOrClear, trap.PeerPass}, {trap.GroupPrivate, trap.PeerDrop}} {
		e := New(Config{})
		e.Handle(t0, Acquire{Local: west, Remote: east, Group: tc.group})
		e.Handle(t0, KeyResult{Remote: east, Outcome: KeySecure, Key: key})
		wantTypes(t, e.Handle(t0.Add(time.Second), Closed{Local: west, Remote: east}), "PoliciesChanged")
		en := onlyEntry(t, e)
		if en.Action != tc.want || en.Reason != "negotiation failed: IKE SA closed before a Child SA was installed" {
			t.Fatalf("%v: entry %+v, want %v", tc.group, en, tc.want)
		}
		if !e.Deadline().Equal(t0.Add(time.Second + 15*time.Minute)) {
			t.Fatalf("%v: deadline %v, want the shunt's expiry", tc.group, e.Deadline())
		}
	}
}

func TestNegotiationTimeout(t *testing.T) {
	e := New(Config{NegotiationTimeout: 5 * time.Second})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	if !e.Deadline().Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("deadline %v", e.Deadline())
	}
	wantTypes(t, e.Tick(t0.Add(5*time.Second)), "Abort", "PoliciesChanged")
	if onlyEntry(t, e).Action != trap.PeerPass {
		t.Fatal("timed-out private-or-clear negotiation should pass")
	}
}

func TestAnonymousOE(t *testing.T) {
	e := New(Config{AuthNull: true})
	acts := e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	if !acts[1].(Initiate).AllowNull {
		t.Fatal("Initiate must allow NULL auth when oe-authnull=yes")
	}
	acts = e.Handle(t0, KeyResult{Remote: east, Outcome: KeyDenied})
	wantTypes(t, acts, "Supply")
	if s := acts[0].(Supply); !s.Anonymous || s.Key != nil {
		t.Fatalf("supply %+v", s)
	}
	e.Handle(t0, Negotiated{Local: west, Remote: east, Reqid: 5, Anonymous: true})
	if p := e.Peers()[0]; !p.Anonymous || p.State != Up {
		t.Fatalf("peer %+v", p)
	}
}

func TestAuthenticatedNeverReplacedByAnonymous(t *testing.T) {
	e := New(Config{AuthNull: true})
	acts := e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	reqid := acts[1].(Initiate).Reqid
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeySecure, Key: key})
	e.Handle(t0, Negotiated{Local: west, Remote: east, Reqid: reqid})
	// The peer initiates again and manages only an anonymous SA.
	wantTypes(t, e.Handle(t0.Add(time.Minute), Inbound{Local: west, Remote: east, Group: trap.GroupPrivateOrClear}), "Lookup", "Accept")
	acts = e.Handle(t0.Add(time.Minute), Negotiated{Local: west, Remote: east, Reqid: reqid + 1, Anonymous: true})
	wantTypes(t, acts, "Teardown")
	if td := acts[0].(Teardown); td.Reqid != reqid+1 {
		t.Fatalf("teardown %+v: must remove the anonymous newcomer", td)
	}
	if p := e.Peers()[0]; p.Anonymous || p.Reqid != reqid {
		t.Fatalf("authenticated SA lost: %+v", p)
	}
}

func TestInboundByGroup(t *testing.T) {
	for _, tc := range []struct {
		group trap.Group
		want  string
	}{
		{trap.GroupPrivate, "Lookup Accept"}, {trap.GroupPrivateOrClear, "Lookup Accept"}, {trap.GroupClearOrPrivate, "Lookup Accept"},
		{trap.GroupClear, "Refuse"}, {trap.GroupBlock, "Refuse"}, {0, "Refuse"},
	} {
		e := New(Config{})
		got := ""
		for i, n := range types(e.Handle(t0, Inbound{Local: west, Remote: east, Group: tc.group})) {
			if i > 0 {
				got += " "
			}
			got += n
		}
		if got != tc.want {
			t.Errorf("inbound from %s: %s, want %s", tc.group, got, tc.want)
		}
	}
}

func TestInboundReplacesShunt(t *testing.T) {
	e := New(Config{})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeyDenied})
	wantTypes(t, e.Handle(t0.Add(time.Minute), Inbound{Local: west, Remote: east, Group: trap.GroupPrivateOrClear}), "Lookup", "Accept", "PoliciesChanged")
	if len(e.Entries()) != 0 {
		t.Fatal("pass shunt still installed while the peer negotiates")
	}
}

func TestOverflowPerGroup(t *testing.T) {
	e := New(Config{MaxNegotiations: 1})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivate})
	wantTypes(t, e.Handle(t0, Acquire{Local: west, Remote: other, Group: trap.GroupPrivate}), "PoliciesChanged")
	third := netip.MustParseAddr("192.0.2.4")
	e.Handle(t0, Acquire{Local: west, Remote: third, Group: trap.GroupPrivateOrClear})
	got := map[netip.Addr]trap.PeerAction{}
	for _, en := range e.Entries() {
		got[en.Remote] = en.Action
	}
	if got[other] != trap.PeerDrop || got[third] != trap.PeerPass || e.Counters().Overflows != 2 {
		t.Fatalf("overflow entries %v, counters %+v", got, e.Counters())
	}
	if wantTypes(t, e.Handle(t0, Inbound{Local: west, Remote: netip.MustParseAddr("192.0.2.5"), Group: trap.GroupPrivate}), "Refuse"); e.Counters().Refused != 1 {
		t.Fatal("refusal not counted")
	}
}

func TestIdleAndClose(t *testing.T) {
	e := New(Config{IdleTimeout: time.Minute})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeySecure, Key: key})
	e.Handle(t0, Negotiated{Local: west, Remote: east, Reqid: 9})
	wantTypes(t, e.Handle(t0.Add(50*time.Second), Activity{Local: west, Remote: east, LastUsed: t0.Add(40 * time.Second)}))
	wantTypes(t, e.Handle(t0.Add(101*time.Second), Activity{Local: west, Remote: east, LastUsed: t0.Add(40 * time.Second)}), "Teardown", "PoliciesChanged")
	if len(e.Peers()) != 0 {
		t.Fatal("idle peer kept")
	}
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	e.Handle(t0, Negotiated{Local: west, Remote: east, Reqid: 10})
	wantTypes(t, e.Handle(t0, Closed{Local: west, Remote: east, Err: errors.New("peer restarted (INVALID_SPI)")}), "PoliciesChanged")
	if len(e.Entries()) != 0 {
		t.Fatal("closed peer's policy kept: the trap must take over to renegotiate")
	}
}

var passReason = regexp.MustCompile(`^(no key in DNS \(authenticated denial\)|no key can be authenticated \(reverse zone unsigned\)|negotiation failed|negotiation timed out|overflow)`)

// TestNeverClearForPrivate drives random event sequences and checks the
// security rules after every step: a private peer never gets a pass entry,
// and a private-or-clear peer gets one only after an authenticated denial,
// a failed or timed-out negotiation, or an overflow.
func TestNeverClearForPrivate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	peers := []netip.Addr{east, other, netip.MustParseAddr("192.0.2.4")}
	for run := 0; run < 300; run++ {
		e := New(Config{MaxNegotiations: 2, AuthNull: rng.IntN(2) == 0})
		group := map[netip.Addr]trap.Group{}
		now := t0
		for step := 0; step < 40; step++ {
			now = now.Add(time.Duration(rng.IntN(120)) * time.Second)
			r := peers[rng.IntN(len(peers))]
			if group[r] == 0 {
				group[r] = []trap.Group{trap.GroupPrivate, trap.GroupPrivateOrClear}[rng.IntN(2)]
			}
			var acts []Action
			switch rng.IntN(7) {
			case 0:
				acts = e.Handle(now, Acquire{Local: west, Remote: r, Group: group[r]})
			case 1:
				acts = e.Handle(now, KeyResult{Remote: r, Outcome: KeyOutcome(1 + rng.IntN(5)), Key: key})
			case 2:
				acts = e.Handle(now, Failed{Local: west, Remote: r, Err: errors.New("x")})
			case 3:
				acts = e.Handle(now, Negotiated{Local: west, Remote: r, Reqid: uint32(100 + rng.IntN(5)), Anonymous: rng.IntN(2) == 0})
			case 4:
				acts = e.Handle(now, Closed{Local: west, Remote: r})
			case 5:
				acts = e.Tick(now)
			case 6:
				acts = e.Handle(now, Inbound{Local: west, Remote: r, Group: group[r]})
			}
			for _, a := range acts {
				if _, ok := a.(Action); !ok {
					t.Fatalf("not an action: %#v", a)
				}
			}
			for _, en := range e.Entries() {
				if en.Action != trap.PeerPass {
					continue
				}
				if group[en.Remote] == trap.GroupPrivate {
					t.Fatalf("run %d step %d: private peer %s has a pass entry", run, step, en.Remote)
				}
				if !passReason.MatchString(en.Reason) {
					t.Fatalf("run %d step %d: pass entry for %s with reason %q: only a denial, a failure, a timeout or an overflow may pass", run, step, en.Remote, en.Reason)
				}
			}
		}
	}
}

// TestPairsWithOneRemote: a host with two addresses, both reached by the
// same remote host, has two peers: each pair negotiates, comes up, fails
// and closes on its own; one key lookup serves both.
func TestPairsWithOneRemote(t *testing.T) {
	e := New(Config{})
	a1, a2 := east, other // this host's two addresses; west is the remote
	for _, l := range []netip.Addr{a1, a2} {
		wantTypes(t, e.Handle(t0, Inbound{Local: l, Remote: west, Group: trap.GroupPrivateOrClear}), "Lookup", "Accept")
	}
	if n := len(e.Peers()); n != 2 {
		t.Fatalf("%d peers, want one per local address: %+v", n, e.Peers())
	}
	// One verdict about west's key reaches both negotiations, with one
	// Supply (the agent hands it to every IKE SA with west).
	wantTypes(t, e.Handle(t0, KeyResult{Remote: west, Outcome: KeySecure, Key: key}), "Supply")
	wantTypes(t, e.Handle(t0, KeyResult{Remote: west, Outcome: KeySecure, Key: key}))
	wantTypes(t, e.Handle(t0, Negotiated{Local: a1, Remote: west, Reqid: 11}), "PoliciesChanged")
	wantTypes(t, e.Handle(t0, Negotiated{Local: a2, Remote: west, Reqid: 12}), "PoliciesChanged")
	es := e.Entries()
	if len(es) != 2 || es[0].Local == es[1].Local || es[0].Reqid == es[1].Reqid {
		t.Fatalf("entries %+v, want one IPsec entry per pair", es)
	}
	// Closing one pair's SA leaves the other.
	wantTypes(t, e.Handle(t0, Closed{Local: a1, Remote: west}), "PoliciesChanged")
	if en := onlyEntry(t, e); en.Local != a2 || en.Action != trap.PeerIPsec {
		t.Fatalf("entry %+v, want a2's SA", en)
	}
	// An event about a pair the engine does not know changes nothing.
	wantTypes(t, e.Handle(t0, Closed{Local: a1, Remote: west}))

	// A denial fails every pair waiting for the key, with one policy
	// change.
	e = New(Config{})
	e.Handle(t0, Inbound{Local: a1, Remote: west, Group: trap.GroupPrivate})
	e.Handle(t0, Inbound{Local: a2, Remote: west, Group: trap.GroupPrivate})
	acts := e.Handle(t0, KeyResult{Remote: west, Outcome: KeyDenied})
	wantTypes(t, acts, "Abort", "Abort", "PoliciesChanged")
	if ab0, ab1 := acts[0].(Abort), acts[1].(Abort); ab0.Local == ab1.Local {
		t.Fatalf("aborts %+v, %+v: want one per pair", ab0, ab1)
	}
	for _, en := range e.Entries() {
		if en.Action != trap.PeerDrop {
			t.Fatalf("entry %+v, want drop (private)", en)
		}
	}
}

// TestShuntOutlivesAcquire: a shunt shorter than the kernel's ACQUIRE
// lifetime lasts that long, since until the larval state expires the
// kernel raises no new ACQUIRE for the flow.
func TestShuntOutlivesAcquire(t *testing.T) {
	e := New(Config{ShuntLifetime: 5 * time.Second, AcquireExpires: 20 * time.Second})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeyDenied})
	if en := onlyEntry(t, e); !en.Expires.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("shunt expires %v, want %v", en.Expires, t0.Add(20*time.Second))
	}
	wantTypes(t, e.Tick(t0.Add(19*time.Second)))
	wantTypes(t, e.Tick(t0.Add(20*time.Second)), "PoliciesChanged")

	// A longer shunt keeps its own lifetime.
	e = New(Config{ShuntLifetime: time.Minute, AcquireExpires: 20 * time.Second})
	e.Handle(t0, Acquire{Local: west, Remote: east, Group: trap.GroupPrivateOrClear})
	e.Handle(t0, KeyResult{Remote: east, Outcome: KeyDenied})
	if en := onlyEntry(t, e); !en.Expires.Equal(t0.Add(time.Minute)) {
		t.Fatalf("shunt expires %v, want %v", en.Expires, t0.Add(time.Minute))
	}
}
