package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/client"
)

// fakeBackend records calls and answers from fixed data.
type fakeBackend struct {
	calls []string
}

func (f *fakeBackend) Status(context.Context) (*api.Status, error) {
	f.calls = append(f.calls, "status")
	return &api.Status{Version: "test", Conns: []api.Conn{{Name: "west-east", State: api.StateUp}}}, nil
}

func (f *fakeBackend) Up(_ context.Context, name string) (*api.Result, error) {
	f.calls = append(f.calls, "up "+name)
	if name != "west-east" {
		return nil, fmt.Errorf("agent: no connection %q: %w", name, ErrNotFound)
	}
	return &api.Result{Name: name, State: api.StateUp}, nil
}

func (f *fakeBackend) Down(_ context.Context, name string) (*api.Result, error) {
	f.calls = append(f.calls, "down "+name)
	return &api.Result{Name: name, State: api.StateDown}, nil
}

func (f *fakeBackend) Reload(context.Context) (*api.ReloadResult, error) {
	f.calls = append(f.calls, "reload")
	return &api.ReloadResult{Added: []string{"new"}}, nil
}

func (f *fakeBackend) Lookup(_ context.Context, target string) (*api.Lookup, error) {
	f.calls = append(f.calls, "lookup "+target)
	return &api.Lookup{Target: target, State: "secure"}, nil
}

func (f *fakeBackend) Trace(_ context.Context, addr string) (*api.Trace, error) {
	f.calls = append(f.calls, "trace "+addr)
	if addr == "" {
		return nil, fmt.Errorf("agent: trace needs an address: %w", ErrBadRequest)
	}
	return &api.Trace{Addr: addr, Action: "trap"}, nil
}

func (f *fakeBackend) HostKey(_ context.Context, addr string) (*api.HostKey, error) {
	f.calls = append(f.calls, "hostkey "+addr)
	return &api.HostKey{Algorithm: "ed25519"}, nil
}

func startServer(t *testing.T) (*fakeBackend, *client.Client, string) {
	t.Helper()
	fb := &fakeBackend{}
	sock := filepath.Join(t.TempDir(), "oe-agentd.sock")
	s, err := Listen(sock, fb, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return fb, client.New(sock), sock
}

func TestClientServerRoundTrip(t *testing.T) {
	fb, c, sock := startServer(t)
	ctx := context.Background()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode %o, want 660", perm)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Conns[0].Name != "west-east" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if lk, err := c.Lookup(ctx, "192.0.2.2"); err != nil || lk.Target != "192.0.2.2" {
		t.Fatalf("Lookup = %+v, %v", lk, err)
	}
	if tr, err := c.Trace(ctx, "192.0.2.2"); err != nil || tr.Action != "trap" {
		t.Fatalf("Trace = %+v, %v", tr, err)
	}
	if _, err := c.HostKey(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Mutating routes pass the peer-credential check only as root.
		if r, err := c.Up(ctx, "west-east"); err != nil || r.State != api.StateUp {
			t.Fatalf("Up = %+v, %v", r, err)
		}
		if _, err := c.Down(ctx, "west-east"); err != nil {
			t.Fatal(err)
		}
		if rr, err := c.Reload(ctx); err != nil || rr.Added[0] != "new" {
			t.Fatalf("Reload = %+v, %v", rr, err)
		}
		_, err := c.Up(ctx, "nope")
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != "not-found" || !strings.Contains(ae.Message, `no connection "nope"`) {
			t.Fatalf("Up(nope) error = %#v", err)
		}
	}
	_, err = c.Trace(ctx, "")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != "bad-request" {
		t.Fatalf("Trace(\"\") error = %#v", err)
	}
	if len(fb.calls) == 0 {
		t.Fatal("backend never called")
	}
}

func TestMutatingRoutesNeedRootCredentials(t *testing.T) {
	fb := &fakeBackend{}
	s := &Server{backend: fb, log: zap.NewNop()}
	h := s.Handler()
	for _, route := range []string{api.RouteUp + "?name=west-east", api.RouteDown + "?name=x", api.RouteReload} {
		rec := httptest.NewRecorder()
		// No peer credentials in the context: as for a non-root caller.
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, route, nil))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"forbidden"`) {
			t.Errorf("POST %s: %d %s, want 403 forbidden", route, rec.Code, rec.Body)
		}
	}
	if len(fb.calls) != 0 {
		t.Fatalf("backend called without permission: %v", fb.calls)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.RouteStatus, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET status without credentials: %d, want 200 (read-only routes are open)", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v9/nothing", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("unknown route: %d", rec.Code)
	}
}

func TestClientReportsDaemonNotRunning(t *testing.T) {
	c := client.New(filepath.Join(t.TempDir(), "absent.sock"))
	_, err := c.Status(context.Background())
	if !errors.Is(err, client.ErrNotRunning) {
		t.Fatalf("err = %v, want ErrNotRunning", err)
	}
	if !strings.Contains(err.Error(), "absent.sock") {
		t.Fatalf("error does not name the socket: %v", err)
	}
}

func TestListenRefusesSecondDaemon(t *testing.T) {
	_, _, sock := startServer(t)
	if _, err := Listen(sock, &fakeBackend{}, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("second Listen: %v", err)
	}
}
