// Package localapi serves oe-agentd's control API (package api) over a unix
// socket. It only routes, checks permissions and encodes JSON; the agent's
// Backend does the work.
package localapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
)

// Backend is what the control API asks of the daemon. Every method may be
// called concurrently; implementations hand work to the goroutine that owns
// the state.
type Backend interface {
	Status(ctx context.Context) (*api.Status, error)
	Up(ctx context.Context, name string) (*api.Result, error)
	Down(ctx context.Context, name string) (*api.Result, error)
	Reload(ctx context.Context) (*api.ReloadResult, error)
	Lookup(ctx context.Context, target string) (*api.Lookup, error)
	Trace(ctx context.Context, addr string) (*api.Trace, error)
	HostKey(ctx context.Context, addr string) (*api.HostKey, error)
}

// Errors a Backend returns (wrapped) to choose the HTTP status and api.Error
// code.
var (
	ErrNotFound    = errors.New("not found")
	ErrBadRequest  = errors.New("bad request")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("unavailable")
)

// Server serves the control API.
type Server struct {
	backend Backend
	log     *zap.Logger
	srv     *http.Server
	ln      net.Listener
}

type credKey struct{}

// Listen creates the socket at path (removing a stale one), with mode 0660 so
// that the socket's group may read status, and returns a Server ready to
// Serve. The parent directory must exist (systemd's RuntimeDirectory=).
func Listen(path string, backend Backend, log *zap.Logger) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("localapi: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("localapi: %s: another oe-agentd is already listening", path)
	}
	os.Remove(path)
	old := syscall.Umask(0o117)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("localapi: listen: %w", err)
	}
	s := &Server{backend: backend, log: log, ln: ln}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if uc, ok := c.(*net.UnixConn); ok {
				if cred, err := peerCred(uc); err == nil {
					return context.WithValue(ctx, credKey{}, cred)
				}
			}
			return ctx
		},
	}
	return s, nil
}

// Serve answers requests until Close.
func (s *Server) Serve() error {
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, waiting up to ctx for requests in flight, and
// removes the socket.
func (s *Server) Close(ctx context.Context) error {
	path := s.ln.Addr().String()
	err := s.srv.Shutdown(ctx)
	os.Remove(path)
	return err
}

func peerCred(uc *net.UnixConn) (*syscall.Ucred, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	return cred, cerr
}
