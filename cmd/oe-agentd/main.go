// Command oe-agentd is the oe-agent daemon. See oe-agentd(8).
//
// It runs in the foreground under systemd (Type=notify): READY=1 once the
// kernel policies are in place, STATUS= lines with counts, WATCHDOG=1 when
// WatchdogSec= is set. SIGHUP reloads the configuration (only the
// difference is applied); SIGTERM and SIGINT remove the agent's own SAs and
// policies and exit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent"
	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/xfrm"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("oe-agentd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", config.DefaultConfigPath, "configuration file (ipsec.conf syntax)")
	check := fs.Bool("check", false, "validate the configuration, secrets, policy groups and host key, then exit (touches nothing)")
	cleanup := fs.Bool("cleanup", false, "remove every XFRM policy and SA oe-agent owns, then exit (for ExecStopPost=)")
	version := fs.Bool("version", false, "print the version and exit")
	logFormat := fs.String("log-format", "", "console or json (overrides logformat= in the configuration)")
	socket := fs.String("socket", "", "control socket (overrides ctlsocket= in the configuration)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "oe-agentd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	switch {
	case *version:
		fmt.Fprintf(stdout, "oe-agentd %s (control API %s)\n", api.Version, api.APIVersion)
		return 0
	case *check:
		return runCheck(*cfgPath, stdout, stderr)
	}
	format := *logFormat
	if format == "" {
		// logformat= applies from the start; a configuration error is
		// reported by agent.New below, with this logger.
		if b, err := config.Load(*cfgPath); err == nil && b.Config.Setup.LogFormat == config.LogJSON {
			format = "json"
		}
	}
	log, level, err := newLogger(format, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "oe-agentd: %v\n", err)
		return 2
	}
	defer log.Sync()
	if *cleanup {
		return runCleanup(log)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a, err := agent.New(agent.Options{ConfigPath: *cfgPath, Socket: *socket, Log: log, Level: &level})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			a.ReloadAsync()
		}
	}()
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped with an error", zap.Error(err))
		return 1
	}
	return 0
}

// runCheck is `oe-agentd --check`: like named-checkconf, it prints every
// problem found with file:line and exits non-zero, without touching the
// kernel.
func runCheck(path string, stdout, stderr io.Writer) int {
	errs := config.Check(path)
	for _, err := range errs {
		fmt.Fprintln(stderr, err)
	}
	if len(errs) > 0 {
		fmt.Fprintf(stderr, "oe-agentd: %s: %d error(s)\n", path, len(errs))
		return 1
	}
	fmt.Fprintf(stdout, "oe-agentd: %s: configuration OK\n", path)
	return 0
}

// runCleanup removes oe-agent's own kernel objects after a crash, leaving
// every other daemon's alone.
func runCleanup(log *zap.Logger) int {
	k, err := xfrm.Open(log)
	if err != nil {
		log.Error("cleanup: cannot open the kernel's XFRM interface", zap.Error(err))
		return 1
	}
	defer k.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.Cleanup(ctx); err != nil {
		log.Error("cleanup failed", zap.Error(err))
		return 1
	}
	log.Info("cleanup: removed oe-agent's XFRM policies and SAs")
	return 0
}
