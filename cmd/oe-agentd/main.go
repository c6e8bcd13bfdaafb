// Command oe-agentd is the oe-agent daemon. See oe-agentd(8).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/oe-agent/oe-agent/agent/api"
)

func main() {
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Printf("oe-agentd %s\n", api.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "oe-agentd: the daemon arrives with the agent issue; only --version works in this build")
	os.Exit(2)
}
