// Package client is the typed client of oe-agentd's control API, used by
// oectl and by end-to-end tests. It imports only package api and the
// standard library.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/oe-agent/oe-agent/agent/api"
)

// ErrNotRunning is returned (wrapped in *NotRunningError) when nothing
// listens on the socket.
var ErrNotRunning = errors.New("oe-agentd is not running")

// NotRunningError says which socket was tried and why it failed.
type NotRunningError struct {
	Socket string
	Err    error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("oe-agentd is not running (cannot connect to %s: %v)", e.Socket, e.Err)
}

func (e *NotRunningError) Unwrap() []error { return []error{ErrNotRunning, e.Err} }

// Client talks to one daemon socket. The zero value is not usable; use New.
type Client struct {
	socket string
	hc     *http.Client
}

// New returns a client for the daemon listening at socket ("" means
// api.DefaultSocket).
func New(socket string) *Client {
	if socket == "" {
		socket = api.DefaultSocket
	}
	return &Client{
		socket: socket,
		hc: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		}, Timeout: 60 * time.Second},
	}
}

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.socket }

func (c *Client) do(ctx context.Context, method, route string, q url.Values, out any) error {
	u := "http://oe-agentd" + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			var oe *net.OpError
			if errors.As(err, &oe) {
				err = oe.Err
			}
			return &NotRunningError{Socket: c.socket, Err: err}
		}
		return fmt.Errorf("client: %s %s: %w", method, route, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("client: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var ae api.Error
		if json.Unmarshal(body, &ae) != nil || ae.Message == "" {
			ae = api.Error{Code: "internal", Message: fmt.Sprintf("HTTP %s", resp.Status)}
		}
		return &ae
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("client: decode %s answer: %w", route, err)
	}
	return nil
}

// Version asks the daemon for its version.
func (c *Client) Version(ctx context.Context) (*api.VersionInfo, error) {
	var v api.VersionInfo
	return &v, c.do(ctx, http.MethodGet, api.RouteVer, nil, &v)
}

// Status returns the daemon's state.
func (c *Client) Status(ctx context.Context) (*api.Status, error) {
	var v api.Status
	return &v, c.do(ctx, http.MethodGet, api.RouteStatus, nil, &v)
}

// Up brings a configured connection up (initiates it).
func (c *Client) Up(ctx context.Context, name string) (*api.Result, error) {
	var v api.Result
	return &v, c.do(ctx, http.MethodPost, api.RouteUp, url.Values{"name": {name}}, &v)
}

// Down takes a connection down: deletes its SAs on both sides.
func (c *Client) Down(ctx context.Context, name string) (*api.Result, error) {
	var v api.Result
	return &v, c.do(ctx, http.MethodPost, api.RouteDown, url.Values{"name": {name}}, &v)
}

// Reload rereads the configuration and applies only the difference.
func (c *Client) Reload(ctx context.Context) (*api.ReloadResult, error) {
	var v api.ReloadResult
	return &v, c.do(ctx, http.MethodPost, api.RouteReload, nil, &v)
}

// Lookup asks the daemon to look up the DNS key of an address or name.
func (c *Client) Lookup(ctx context.Context, target string) (*api.Lookup, error) {
	var v api.Lookup
	return &v, c.do(ctx, http.MethodGet, api.RouteLookup, url.Values{"target": {target}}, &v)
}

// Trace explains what the daemon would do with a packet to addr.
func (c *Client) Trace(ctx context.Context, addr string) (*api.Trace, error) {
	var v api.Trace
	return &v, c.do(ctx, http.MethodGet, api.RouteTrace, url.Values{"addr": {addr}}, &v)
}

// HostKey returns this host's public key and, given an address, the
// IPSECKEY record to publish for it.
func (c *Client) HostKey(ctx context.Context, addr string) (*api.HostKey, error) {
	var v api.HostKey
	q := url.Values{}
	if addr != "" {
		q.Set("addr", addr)
	}
	return &v, c.do(ctx, http.MethodGet, api.RouteHost, q, &v)
}
