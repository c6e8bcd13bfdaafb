package interop

import (
	"flag"
	"os"
	"testing"

	"github.com/oe-agent/oe-agent/internal/testenv"
)

// guestParallel is how many interop cases run side by side in the guest
// unless -test.parallel says otherwise. The default (GOMAXPROCS, 2 in the
// guest) would serialise the sixteen cases although each spends most of
// its time waiting: on retransmission timers, on the TCP stream's 50 ms
// ticks and on the peers' daemons.
const guestParallel = "8"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && testenv.InGuest() {
		flag.Set("test.parallel", guestParallel)
	}
	os.Exit(m.Run())
}
