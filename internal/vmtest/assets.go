package vmtest

import (
	"bytes"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed init.sh
var initScript []byte

//go:embed stage2.sh
var stage2Script []byte

// initModules are the modules the initramfs loads before it can mount the
// host root, dependencies first (vm-rig.md).
var initModules = []string{
	"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
	"netfs", "fscache", "9pnet", "9pnet_virtio", "9p", "overlay",
}

// Assets are the files a guest boots from: an uncompressed kernel and an
// initramfs, cached under a directory keyed by the kernel release.
type Assets struct {
	KernelRelease string // e.g. 6.1.0-56-amd64
	Vmlinux       string // uncompressed ELF kernel, booted through its PVH note
	Initramfs     string // uncompressed newc cpio archive
}

// FindKernel returns the newest Debian kernel release installed under /boot
// whose modules include ESP: the host kernel has none, so it is never picked.
func FindKernel() (string, error) {
	matches, _ := filepath.Glob("/boot/vmlinuz-*")
	var rels []string
	for _, m := range matches {
		rel := strings.TrimPrefix(filepath.Base(m), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", rel, "kernel/net/ipv4/esp4.ko")); err == nil {
			rels = append(rels, rel)
		}
	}
	if len(rels) == 0 {
		return "", errors.New("vmtest: no guest kernel with esp4 found in /boot (apt-get install linux-image-amd64; `make test` does it)")
	}
	sort.Strings(rels)
	return rels[len(rels)-1], nil
}

// PrepareAssets makes sure the cached vmlinux and initramfs for the newest
// guest kernel exist in cacheDir, building them if needed.
func PrepareAssets(cacheDir string) (*Assets, error) {
	rel, err := FindKernel()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Join(cacheDir, rel))
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	a := &Assets{
		KernelRelease: rel,
		Vmlinux:       filepath.Join(dir, "vmlinux"),
		Initramfs:     filepath.Join(dir, "initramfs.cpio"),
	}
	if _, err := os.Stat(a.Vmlinux); err != nil {
		if err := extractVmlinux("/boot/vmlinuz-"+rel, a.Vmlinux); err != nil {
			return nil, err
		}
	}
	// The initramfs is cheap to build; rebuild it when the embedded init
	// changed so edits to init.sh take effect without a manual clean.
	stamp := filepath.Join(dir, "initramfs.init")
	if old, err := os.ReadFile(stamp); err != nil || !bytes.Equal(old, initScript) {
		if err := buildInitramfs(rel, a.Initramfs); err != nil {
			return nil, err
		}
		if err := os.WriteFile(stamp, initScript, 0o644); err != nil {
			return nil, fmt.Errorf("vmtest: %w", err)
		}
	}
	return a, nil
}

// extractVmlinux unpacks the XZ stream inside a bzImage. Booting the ELF
// directly (PVH entry) skips seconds of in-guest decompression under TCG.
func extractVmlinux(vmlinuz, out string) error {
	data, err := os.ReadFile(vmlinuz)
	if err != nil {
		return fmt.Errorf("vmtest: read kernel: %w", err)
	}
	off := bytes.Index(data, []byte("\xfd7zXZ\x00"))
	if off < 0 {
		return fmt.Errorf("vmtest: %s: no XZ stream found (only XZ-compressed Debian kernels are supported)", vmlinuz)
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer f.Close()
	cmd := exec.Command("xz", "-dc", "--single-stream")
	cmd.Stdin = bytes.NewReader(data[off:])
	cmd.Stdout = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vmtest: unpack %s: %v: %s", vmlinuz, err, stderr.String())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return os.Rename(tmp, out)
}

// buildInitramfs writes a newc archive with static busybox, the modules
// needed to mount the host root, and init.sh as /init.
func buildInitramfs(rel, out string) error {
	stage, err := os.MkdirTemp("", "vmtest-initramfs")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(stage)
	for _, d := range []string{"bin", "mods", "proc", "sys", "dev", "newroot"} {
		if err := os.MkdirAll(filepath.Join(stage, d), 0o755); err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
	}
	if err := copyFile("/bin/busybox", filepath.Join(stage, "bin/busybox"), 0o755); err != nil {
		return err
	}
	if isDynamic("/bin/busybox") {
		return errors.New("vmtest: /bin/busybox is dynamically linked (apt-get install busybox-static)")
	}
	for _, m := range initModules {
		path, err := exec.Command("modinfo", "-k", rel, "-n", m).Output()
		if err != nil {
			return fmt.Errorf("vmtest: modinfo %s for %s: %w", m, rel, err)
		}
		src := strings.TrimSpace(string(path))
		if strings.HasSuffix(src, ".xz") || strings.HasSuffix(src, ".zst") {
			return fmt.Errorf("vmtest: module %s is compressed (%s); busybox insmod cannot load it", m, src)
		}
		if err := copyFile(src, filepath.Join(stage, "mods", m+".ko"), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(stage, "mods/order"), []byte(strings.Join(initModules, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(stage, "init"), initScript, 0o755); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	cmd := exec.Command("sh", "-c", "find . | cpio -o -H newc --quiet > "+shellQuote(out+".tmp"))
	cmd.Dir = stage
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vmtest: cpio: %v: %s", err, b)
	}
	return os.Rename(out+".tmp", out)
}

// isDynamic reports whether the ELF file at path needs a program
// interpreter, which the initramfs does not have.
func isDynamic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
