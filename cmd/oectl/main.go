// Command oectl shows and controls oe-agentd. See oectl(8).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/oe-agent/oe-agent/agent/api"
)

// Stdout is where commands print; tests replace it.
var Stdout io.Writer = os.Stdout

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintf(Stdout, "oectl %s (control API %s)\n", api.Version, api.APIVersion)
		return 0
	}
	fmt.Fprintln(os.Stderr, "usage: oectl version")
	fmt.Fprintln(os.Stderr, "oectl: status, lookup, trace, up/down, reload, keygen and showhostkey arrive with the agent issue")
	return 2
}
