package vmtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Guest describes one boot of the test guest.
type Guest struct {
	Assets *Assets
	// Script is the bash script the guest runs; its exit status is the
	// guest's result. Ignored when Interactive is set.
	Script string
	// Interactive gives a login shell on the terminal instead (make vm-shell).
	Interactive bool
	// ShareDir is a host directory mounted read-write at /run/vmtest in the
	// guest; results and captures come back through it. It must exist.
	ShareDir string
	// Stdout receives what the guest's command prints (second serial port).
	Stdout io.Writer
	// Stdin is the terminal for Interactive boots.
	Stdin io.Reader
	// MemoryMB and CPUs size the guest; zero means 4096 MiB and 2 CPUs (many test binaries run side by side, each with its daemons).
	MemoryMB, CPUs int
	// Systemd boots systemd as PID 1, which runs Script as a service
	// (systemd.go); Interactive is then not supported.
	Systemd bool
}

// ErrGuestNoResult is returned when the guest powered off or was killed
// without reporting an exit status (a kernel panic, an init failure or the
// timeout); the kernel console log path is named in the error.
var ErrGuestNoResult = errors.New("vmtest: guest ended without an exit status")

// Run boots the guest, waits until it powers off or ctx ends, and returns
// the exit status of its script. The kernel console goes to
// ShareDir/console.log, so a boot failure can be read there.
func (g *Guest) Run(ctx context.Context) (int, error) {
	share, err := filepath.Abs(g.ShareDir)
	if err != nil {
		return -1, fmt.Errorf("vmtest: %w", err)
	}
	stage2 := stage2Script
	if g.Systemd {
		stage2 = systemdStage2
	}
	if err := os.WriteFile(filepath.Join(share, "stage2.sh"), stage2, 0o755); err != nil {
		return -1, fmt.Errorf("vmtest: %w", err)
	}
	os.Remove(filepath.Join(share, "rc"))
	os.Remove(filepath.Join(share, "interactive"))
	if g.Interactive {
		if err := os.WriteFile(filepath.Join(share, "interactive"), nil, 0o644); err != nil {
			return -1, fmt.Errorf("vmtest: %w", err)
		}
	} else if err := os.WriteFile(filepath.Join(share, "cmd.sh"), []byte(g.Script), 0o755); err != nil {
		return -1, fmt.Errorf("vmtest: %w", err)
	}
	mem, cpus := g.MemoryMB, g.CPUs
	if mem == 0 {
		mem = 4096
	}
	if cpus == 0 {
		cpus = 2
	}
	console := filepath.Join(share, "console.log")
	args := []string{
		// TCG: a KVM guest hangs on this kind of machine (vm-rig.md).
		"-accel", "tcg,thread=multi", "-cpu", "max",
		"-machine", "q35", "-bios", "/usr/share/qemu/qboot.rom",
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", g.Assets.Vmlinux, "-initrd", g.Assets.Initramfs,
		"-append", "console=ttyS0 quiet panic=-1 cryptomgr.notests=1 mitigations=off no_timer_check",
		"-chardev", "file,id=con,path=" + console,
		"-device", "isa-serial,chardev=con",
		"-chardev", "stdio,id=out,signal=off",
		"-device", "isa-serial,chardev=out",
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + share + ",mount_tag=vmtest,security_model=none,multidevs=remap",
		"-device", "virtio-rng-pci",
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdout = g.Stdout
	cmd.Stderr = g.Stdout
	cmd.Stdin = g.Stdin
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	b, err := os.ReadFile(filepath.Join(share, "rc"))
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%w: %v (kernel console: %s)", ErrGuestNoResult, ctx.Err(), console)
		}
		return -1, fmt.Errorf("%w: qemu: %v (kernel console: %s)", ErrGuestNoResult, runErr, console)
	}
	rc, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1, fmt.Errorf("vmtest: bad exit status %q from guest", b)
	}
	return rc, nil
}
