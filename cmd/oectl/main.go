// Command oectl shows and controls oe-agentd through its control socket.
// See oectl(8).
//
// oectl imports only agent/api and agent/client (enforced by a test), so it
// can never reach into the daemon's internals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/client"
)

// Stdout and Stderr are where commands print; tests replace them.
var (
	Stdout io.Writer = os.Stdout
	Stderr io.Writer = os.Stderr
)

// Exit codes.
const (
	exitOK         = 0
	exitError      = 1 // the command failed
	exitUsage      = 2 // bad command line
	exitNotRunning = 3 // no daemon on the socket (as systemctl is-active)
)

func main() { os.Exit(run(os.Args[1:])) }

type command struct {
	name, args, help string
	run              func(ctx context.Context, c *client.Client, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"status", "[--json|dump]", "connections and peers with their SAs and counters", cmdStatus},
		{"up", "CONN", "initiate a configured connection", cmdUp},
		{"down", "CONN", "delete a connection's SAs on both sides", cmdDown},
		{"reload", "", "reread the configuration and apply only the difference", cmdReload},
		{"lookup", "[--json] ADDR|NAME", "look up a peer's key in DNS and show the DNSSEC chain", cmdLookup},
		{"trace", "[--json] ADDR", "explain what happens now to a packet sent to ADDR", cmdTrace},
		{"showhostkey", "[--ipseckey ADDR]", "print this host's public key, or the IPSECKEY record to publish", cmdShowHostKey},
		{"keygen", "[--type ed25519|rsa] [--bits N] [--out FILE] [--force]", "create a host key (no daemon needed)", nil},
		{"completion", "bash", "print the bash completion script", nil},
		{"version", "", "print oectl's and the daemon's versions", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oectl [--socket PATH] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %-40s %s\n", c.name, c.args, c.help)
	}
}

func run(args []string) int {
	fs := flag.NewFlagSet("oectl", flag.ContinueOnError)
	fs.SetOutput(Stderr)
	socket := fs.String("socket", api.DefaultSocket, "control socket of oe-agentd")
	timeout := fs.Duration("timeout", 60*time.Second, "give up on the daemon after this long")
	fs.Usage = func() { usage(Stderr) }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		usage(Stderr)
		return exitUsage
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	switch name {
	case "help", "-h", "--help":
		usage(Stdout)
		return exitOK
	case "keygen":
		return report(name, cmdKeygen(rest))
	case "completion":
		return report(name, cmdCompletion(rest))
	}
	for _, c := range commands {
		if c.name == name && c.run != nil {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			defer cancel()
			return report(name, c.run(ctx, client.New(*socket), rest))
		}
	}
	fmt.Fprintf(Stderr, "oectl: unknown command %q\n", name)
	usage(Stderr)
	return exitUsage
}

// usageError marks a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func report(cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var nr *client.NotRunningError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(Stderr, "oectl %s: %s\n", cmd, ue.msg)
		return exitUsage
	case errors.As(err, &nr):
		fmt.Fprintf(Stderr, "oectl: %v\n", nr)
		fmt.Fprintln(Stderr, "oectl: start it with `systemctl start oe-agentd`, or give the socket of a running daemon with --socket")
		return exitNotRunning
	default:
		fmt.Fprintf(Stderr, "oectl %s: %v\n", cmd, err)
		return exitError
	}
}
