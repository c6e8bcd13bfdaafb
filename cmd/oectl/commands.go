package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/client"
)

// parseOne parses flags and requires exactly one positional argument.
func parseOne(fs *flag.FlagSet, args []string, what string) (string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return "", &usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return "", &usageError{"needs exactly one " + what}
	}
	return fs.Arg(0), nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdStatus(ctx context.Context, c *client.Client, args []string) error {
	mode := "table"
	switch {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "--json":
		mode = "json"
	case len(args) == 1 && args[0] == "dump":
		mode = "dump"
	default:
		return &usageError{"takes --json or dump"}
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	switch mode {
	case "json":
		return printJSON(st)
	case "dump":
		return writeDump(Stdout, st)
	}
	return writeStatusTable(Stdout, st)
}

func cmdUp(ctx context.Context, c *client.Client, args []string) error {
	name, err := parseOne(flag.NewFlagSet("up", flag.ContinueOnError), args, "connection name")
	if err != nil {
		return err
	}
	r, err := c.Up(ctx, name)
	if err != nil {
		return err
	}
	return printResult(r)
}

func cmdDown(ctx context.Context, c *client.Client, args []string) error {
	name, err := parseOne(flag.NewFlagSet("down", flag.ContinueOnError), args, "connection name")
	if err != nil {
		return err
	}
	r, err := c.Down(ctx, name)
	if err != nil {
		return err
	}
	return printResult(r)
}

func printResult(r *api.Result) error {
	fmt.Fprintf(Stdout, "%s: %s", r.Name, r.State)
	if r.Message != "" {
		fmt.Fprintf(Stdout, " (%s)", r.Message)
	}
	fmt.Fprintln(Stdout)
	return nil
}

func cmdReload(ctx context.Context, c *client.Client, args []string) error {
	if len(args) != 0 {
		return &usageError{"takes no arguments"}
	}
	r, err := c.Reload(ctx)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"added", r.Added}, {"removed", r.Removed}, {"changed", r.Changed}, {"unchanged", r.Unchanged}} {
		if len(l.names) > 0 {
			fmt.Fprintf(Stdout, "%-10s %s\n", l.what+":", strings.Join(l.names, ", "))
		}
	}
	if len(r.Added)+len(r.Removed)+len(r.Changed) == 0 {
		fmt.Fprintln(Stdout, "reload: nothing changed")
	}
	return nil
}

func cmdLookup(ctx context.Context, c *client.Client, args []string) error {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	target, err := parseOne(fs, args, "address or name")
	if err != nil {
		return err
	}
	lk, err := c.Lookup(ctx, target)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(lk)
	}
	return writeLookup(Stdout, lk)
}

func cmdTrace(ctx context.Context, c *client.Client, args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	addr, err := parseOne(fs, args, "address")
	if err != nil {
		return err
	}
	tr, err := c.Trace(ctx, addr)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(tr)
	}
	fmt.Fprintf(Stdout, "%s: %s\n  covered by: %s\n  %s\n", tr.Addr, tr.Action, tr.Source, tr.Explanation)
	return nil
}

func cmdShowHostKey(ctx context.Context, c *client.Client, args []string) error {
	fs := flag.NewFlagSet("showhostkey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("ipseckey", "", "print the IPSECKEY record for this address")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() != 0 {
		return &usageError{"takes only --ipseckey ADDR"}
	}
	hk, err := c.HostKey(ctx, *addr)
	if err != nil {
		return err
	}
	if *addr != "" {
		fmt.Fprintln(Stdout, hk.IPSECKEY)
		return nil
	}
	fmt.Fprintf(Stdout, "# %s host key\n%s\n", hk.Algorithm, hk.PublicKey)
	return nil
}

func cmdVersion(ctx context.Context, c *client.Client, args []string) error {
	fmt.Fprintf(Stdout, "oectl %s (control API %s)\n", api.Version, api.APIVersion)
	v, err := c.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(Stdout, "oe-agentd %s (control API %s)\n", v.Version, v.APIVersion)
	return nil
}
