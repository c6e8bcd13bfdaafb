package agent

import (
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

var errNoNotifySocket = errors.New("agent: not started by systemd (no NOTIFY_SOCKET)")

// sdNotify sends a state to systemd (Type=notify).
func sdNotify(state string) error {
	ok, err := daemon.SdNotify(false, state)
	if err != nil {
		return err
	}
	if !ok {
		return errNoNotifySocket
	}
	return nil
}

// watchdogInterval is WatchdogSec= as systemd passes it, or zero.
func watchdogInterval() time.Duration {
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}
