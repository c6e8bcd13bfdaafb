package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"syscall"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
)

// Handler returns the route table. Exposed so tests can serve it on any
// listener; permission checks need peer credentials in the request context
// (Listen puts them there) and deny mutating routes without them.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	get := func(route string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc("GET "+route, func(w http.ResponseWriter, r *http.Request) { s.answer(w, r, f) })
	}
	post := func(route string, f func(r *http.Request) (any, error)) {
		mux.HandleFunc("POST "+route, func(w http.ResponseWriter, r *http.Request) {
			if !isRoot(r.Context()) {
				writeError(w, http.StatusForbidden, "forbidden", "this command changes the daemon's state and needs root")
				return
			}
			s.answer(w, r, f)
		})
	}
	get(api.RouteVer, func(*http.Request) (any, error) {
		return &api.VersionInfo{Version: api.Version, APIVersion: api.APIVersion}, nil
	})
	get(api.RouteStatus, func(r *http.Request) (any, error) { return s.backend.Status(r.Context()) })
	get(api.RouteLookup, func(r *http.Request) (any, error) {
		return s.backend.Lookup(r.Context(), r.URL.Query().Get("target"))
	})
	get(api.RouteTrace, func(r *http.Request) (any, error) {
		return s.backend.Trace(r.Context(), r.URL.Query().Get("addr"))
	})
	get(api.RouteHost, func(r *http.Request) (any, error) {
		return s.backend.HostKey(r.Context(), r.URL.Query().Get("addr"))
	})
	post(api.RouteUp, func(r *http.Request) (any, error) { return s.backend.Up(r.Context(), r.URL.Query().Get("name")) })
	post(api.RouteDown, func(r *http.Request) (any, error) { return s.backend.Down(r.Context(), r.URL.Query().Get("name")) })
	post(api.RouteReload, func(r *http.Request) (any, error) { return s.backend.Reload(r.Context()) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not-found", "no such route: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func isRoot(ctx context.Context) bool {
	cred, ok := ctx.Value(credKey{}).(*syscall.Ucred)
	return ok && cred.Uid == 0
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, f func(*http.Request) (any, error)) {
	v, err := f(r)
	if err != nil {
		status, code := http.StatusInternalServerError, "internal"
		switch {
		case errors.Is(err, ErrNotFound):
			status, code = http.StatusNotFound, "not-found"
		case errors.Is(err, ErrBadRequest):
			status, code = http.StatusBadRequest, "bad-request"
		case errors.Is(err, ErrConflict):
			status, code = http.StatusConflict, "conflict"
		case errors.Is(err, ErrUnavailable):
			status, code = http.StatusServiceUnavailable, "unavailable"
		}
		if s.log != nil {
			s.log.Info("control request failed", zap.String("route", r.URL.Path), zap.Error(err))
		}
		writeError(w, status, code, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(&api.Error{Code: code, Message: msg})
}
