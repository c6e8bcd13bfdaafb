package ike_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/oe-agent/oe-agent/ike"
)

// Example_pure drives two IKE endpoints by hand, without sockets: each
// datagram an SA asks to send is handed to the other end's Dispatcher.
func Example_pure() {
	psk := []byte("example pre-shared key, not for real use")
	cfg := func(id string) *ike.Config {
		return &ike.Config{
			LocalID:        ike.FQDNID(id),
			LocalAuth:      ike.LocalAuth{Method: ike.AuthPSK, PSK: psk},
			Peer:           ike.PeerAuth{PSK: psk},
			IKEProposals:   ike.DefaultIKEProposals(),
			ChildProposals: ike.DefaultChildProposals(),
		}
	}
	a, b := netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500")
	da, _ := ike.NewDispatcher(ike.DispatcherConfig{})
	db, _ := ike.NewDispatcher(ike.DispatcherConfig{Responder: cfg("b.example")})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	_, acts, err := da.Initiate(now, cfg("a.example"), a, b)
	if err != nil {
		panic(err)
	}
	for len(acts) > 0 {
		var next []ike.Action
		for _, act := range acts {
			switch act := act.(type) {
			case ike.Send:
				d := db
				if act.Remote == a {
					d = da
				}
				_, out, _ := d.Handle(now, act.Remote, act.Local, act.Data)
				next = append(next, out...)
			case ike.Established:
				fmt.Println("established with", act.PeerID)
			case ike.InstallChild:
				fmt.Println("install", act.Child.Protocol, act.Child.Mode, act.Child.Encr.Transform(act.Child.EncrKeyBits))
			}
		}
		acts = next
	}
	// Output:
	// established with ID_FQDN:"a.example"
	// install ESP tunnel ENCR_AES_GCM_16_256
	// established with ID_FQDN:"b.example"
	// install ESP tunnel ENCR_AES_GCM_16_256
}

// ExampleDriver shows the shape of a daemon: sockets with the IPsec
// bypass, a Handler that programs the kernel, and answers to NeedPeerKey
// from a DNS lookup running elsewhere, posted back with Do.
func ExampleDriver() {
	disp, _ := ike.NewDispatcher(ike.DispatcherConfig{Responder: &ike.Config{ /* ... */ }})
	var drv *ike.Driver
	drv, err := ike.NewDriver(ike.DriverConfig{
		Dispatcher: disp,
		Listen:     []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:500"), netip.MustParseAddrPort("0.0.0.0:4500")},
		// Bypass: xfrm.BypassSocket, in the agent.
		Handler: func(sa *ike.SA, a ike.Action) {
			switch a := a.(type) {
			case ike.InstallChild:
				_ = a.Child // program XFRM states and policies
			case ike.NeedPeerKey:
				go func() {
					var key any // look up IPSECKEY for a.ID, validate DNSSEC
					drv.Do(sa, func(now time.Time) []ike.Action { return sa.SupplyPeerKey(now, key, nil) })
				}()
			}
		},
	})
	if err != nil {
		return
	}
	go drv.Run(context.Background())
	defer drv.Close()
}
