package xfrm

import (
	"context"
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
)

func TestRetryDump(t *testing.T) {
	for _, tc := range []struct {
		name       string
		interrupts int
		final      error
		wantCalls  int
		wantErr    error
	}{
		{"clean", 0, nil, 1, nil},
		{"interrupted twice", 2, nil, 3, nil},
		{"other error not retried", 0, errShort, 1, errShort},
		{"always interrupted", 100, nil, maxDumpAttempts, netlink.ErrDumpInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retryDump(context.Background(), zap.NewNop(), func() error {
				calls++
				if calls <= tc.interrupts {
					return netlink.ErrDumpInterrupted
				}
				return tc.final
			})
			if calls != tc.wantCalls {
				t.Errorf("%d attempts, want %d", calls, tc.wantCalls)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retryDump(ctx, zap.NewNop(), func() error { t.Fatal("attempted"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
