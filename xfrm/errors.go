package xfrm

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// OpError is the error every Kernel operation returns. It names the
// operation and the object, and unwraps to the cause: a syscall.Errno from
// the kernel (so errors.Is(err, os.ErrNotExist) works for ENOENT and
// errors.Is(err, os.ErrExist) for EEXIST), ErrNotOwned, or an *InvalidError.
//
//	xfrm: add state esp spi 0x00001234 192.0.2.1->192.0.2.2: the kernel has no ESP support (module esp4/esp6 missing)
type OpError struct {
	Op     string // "add", "update", "delete", "list", "allocspi", "subscribe", "bypass", "cleanup"
	Object string // "state esp spi 0x00001234 192.0.2.1->192.0.2.2", "policy out ...", "states"
	Err    error
}

func (e *OpError) Error() string {
	s := "xfrm: " + e.Op
	if e.Object != "" {
		s += " " + e.Object
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *OpError) Unwrap() error { return e.Err }

// newOpError wraps err in an *OpError, or returns nil if err is nil.
func newOpError(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Object: object, Err: err}
}

// ErrNotOwned is the cause of an OpError when an operation would change or
// remove a kernel object that another IPsec daemon installed.
var ErrNotOwned = errors.New("object belongs to another IPsec daemon (outside oe-agent's reqid range or priority band)")

// InvalidError is the cause of an OpError for an SA or policy that fails
// validation before reaching the kernel. It matches syscall.EINVAL with
// errors.Is.
type InvalidError struct {
	Reason string
}

func (e *InvalidError) Error() string { return "invalid: " + e.Reason }

// Is makes errors.Is(err, syscall.EINVAL) hold, as for the kernel's own
// rejections.
func (e *InvalidError) Is(target error) bool { return target == syscall.EINVAL }

func invalidf(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// kernelError explains an errno from a state operation in plain words where
// the bare errno would mislead, and keeps the errno reachable by Unwrap.
type kernelError struct {
	msg      string
	errno    syscall.Errno
	notExist bool // matches os.ErrNotExist (ESRCH for a missing SA)
}

func (e *kernelError) Error() string { return e.msg }
func (e *kernelError) Unwrap() error { return e.errno }

func (e *kernelError) Is(target error) bool {
	return e.notExist && target == os.ErrNotExist
}

// explainStateErr maps the errnos of XFRM_MSG_NEWSA/UPDSA that mean "this
// kernel lacks a module" to plain words. The kernel answers EPROTONOSUPPORT
// ("Requested type not found") when the protocol (esp4/esp6, ah4/ah6) is not
// built or loaded, and ENOSYS ("Requested ... algorithm not found") when the
// crypto algorithm is missing; see xfrm_init_state and attach_aead in
// net/xfrm.
func explainStateErr(sa SA, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.EPROTONOSUPPORT:
		mod := "esp4/esp6"
		name := "ESP"
		if sa.Proto == ProtoAH {
			mod, name = "ah4/ah6", "AH"
		}
		return &kernelError{msg: fmt.Sprintf("the kernel has no %s support (module %s missing): %v", name, mod, errno), errno: errno}
	case syscall.ENOSYS:
		algs := ""
		if sa.Cipher != CipherNone {
			algs = sa.Cipher.KernelName()
		}
		if sa.Integrity != IntegrityNone {
			if algs != "" {
				algs += " or "
			}
			algs += sa.Integrity.KernelName()
		}
		return &kernelError{msg: fmt.Sprintf("the kernel has no crypto algorithm %s (crypto module missing): %v", algs, errno), errno: errno}
	}
	return err
}
