package trap_test

import (
	"fmt"
	"net/netip"

	"github.com/oe-agent/oe-agent/trap"
)

// The agent converts its configuration into an Input: here OE for
// everything, a clear subnet, a blocked host and the resolver.
func ExampleCompute() {
	in := trap.Input{
		Local: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
		Groups: map[trap.Group][]trap.Dest{
			trap.GroupPrivateOrClear: {{Prefix: netip.MustParsePrefix("0.0.0.0/0")}},
			trap.GroupClear:          {{Prefix: netip.MustParsePrefix("198.51.100.0/24")}},
			trap.GroupBlock:          {{Prefix: netip.MustParsePrefix("198.51.100.66/32")}},
		},
		Resolvers: []netip.AddrPort{netip.MustParseAddrPort("198.51.100.53:53")},
	}
	set, err := trap.Compute(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range []string{"203.0.113.9", "198.51.100.7", "198.51.100.66"} {
		d := set.Explain(netip.MustParseAddr(a))
		fmt.Printf("%s: %s (%s %s)\n", a, d.Verdict, d.Out.Owner, d.Out.Source)
	}
	// Output:
	// 203.0.113.9: trap (group private-or-clear 0.0.0.0/0)
	// 198.51.100.7: pass (group clear 198.51.100.0/24)
	// 198.51.100.66: drop (group block 198.51.100.66/32)
}

// Invalid input is rejected as a whole, with every problem named.
func ExampleInputError() {
	_, err := trap.Compute(trap.Input{Groups: map[trap.Group][]trap.Dest{
		trap.GroupPrivate: {{Prefix: netip.MustParsePrefix("192.0.2.1/24")}},
		trap.GroupClear:   {{Prefix: netip.MustParsePrefix("10.0.0.0/8"), RemotePort: 53}},
	}})
	fmt.Println(err)
	// Output:
	// trap: invalid input (2 problems): group clear: 10.0.0.0/8: ports need a protocol; group private: prefix 192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24?)
}
