package dnskeys

import (
	"context"
	"sync"
)

// flight collapses concurrent calls with the same key into one (like
// golang.org/x/sync/singleflight, with contexts). The first caller's
// context, detached from its cancellation but keeping its deadline, runs the
// call; every caller waits on its own context. The zero value is ready.
type flight[K comparable, V any] struct {
	mu    sync.Mutex // guards calls
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// do runs fn once for all concurrent callers of key.
func (g *flight[K, V]) do(ctx context.Context, key K, fn func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[K]*flightCall[V]{}
	}
	c, ok := g.calls[key]
	if !ok {
		c = &flightCall[V]{done: make(chan struct{})}
		g.calls[key] = c
		runCtx := context.WithoutCancel(ctx)
		var cancel context.CancelFunc = func() {}
		if dl, has := ctx.Deadline(); has {
			runCtx, cancel = context.WithDeadline(runCtx, dl)
		}
		go func() {
			defer cancel()
			c.val, c.err = fn(runCtx)
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
