//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkOwner refuses a secrets file owned by anyone but root or the user
// the daemon runs as: its owner could replace the keys. Files without Unix
// ownership (fstest.MapFS in tests) pass.
func checkOwner(name string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return &OwnerError{Path: name, UID: st.Uid}
	}
	return nil
}

// OwnerError is returned for a file holding secrets owned by another user.
type OwnerError struct {
	Path string
	UID  uint32
}

func (e *OwnerError) Error() string { return e.Path + " " + e.detail() }

func (e *OwnerError) detail() string {
	return fmt.Sprintf("is owned by uid %d: a file holding secrets must be owned by root or by the daemon's user (chown root %s)", e.UID, e.Path)
}
