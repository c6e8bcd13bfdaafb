package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/oe-agent/oe-agent/agent/api"
	"github.com/oe-agent/oe-agent/agent/config"
	"github.com/oe-agent/oe-agent/agent/localapi"
	"github.com/oe-agent/oe-agent/dnskeys"
	"github.com/oe-agent/oe-agent/ike"
	"github.com/oe-agent/oe-agent/oe"
	"github.com/oe-agent/oe-agent/trap"
	"github.com/oe-agent/oe-agent/xfrm"
)

// Options configure an Agent. Only ConfigPath and Log are needed in
// production; the rest are for tests.
type Options struct {
	// ConfigPath is the main configuration file.
	ConfigPath string
	// Socket overrides ctlsocket= from the configuration.
	Socket string
	// Log receives everything the agent logs; key material never.
	Log *zap.Logger
	// Level, if set, is Log's level; the agent sets it from loglevel= at
	// start and on reload.
	Level *zap.AtomicLevel
	// Kernel is the XFRM interface; nil opens the calling namespace's.
	Kernel xfrm.Kernel
	// Notify sends sd_notify(3) states; nil uses $NOTIFY_SOCKET.
	Notify func(state string) error
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// IKEPorts are the UDP ports IKE listens on and sends from; nil means
	// 500 and 4500 (RFC 7296 §2, §2.23).
	IKEPorts []uint16
}

// Agent is oe-agentd: it owns the configuration, the kernel objects it
// installed and the IKE SAs, all in the single goroutine that runs Run.
// Other goroutines (control API handlers, signal handlers) hand work to it
// through runOnLoop.
type Agent struct {
	opts   Options
	log    *zap.Logger
	kernel xfrm.Kernel
	closeK func() error
	now    func() time.Time

	reqs   chan func()
	reload chan struct{}
	runCtx context.Context // Run's, for work started off the loop

	// Owned by the loop goroutine.
	bundle *config.Bundle
	conns  map[string]*connState
	order  []string // conn names in configuration order
	reqids reqidAllocator
	oe     *oe.Engine
	rec    *trap.Reconciler
	set    *trap.Set // the policy set last applied

	started  time.Time
	reloaded time.Time
	counters api.Counters
	lastErr  string

	// dns is safe for concurrent use; lookups run off the loop.
	dns *dnskeys.Resolver

	// IKE: the dispatcher and sockets are safe for concurrent use; the
	// maps are the loop's.
	disp         *ike.Dispatcher
	ikeio        *ikeIO
	ikePort      uint16
	ikeEvents    chan ikeEvent
	respSnap     atomic.Pointer[responderSnapshot]
	respSet      atomic.Pointer[trap.Set] // a.set, for the receive goroutines
	peerUse      map[oe.Pair]*peerUse     // OE SAs' counters at the last activity poll
	peerSA       map[oe.Pair]*saRunner
	peerChildren map[oe.Pair][]childInfo
	peerAuth     map[oe.Pair]ike.AuthMethod
	peerKeys     map[netip.Addr]oe.Supply // the engine's last key verdict per remote host

	// Batching of OE policy changes (inBatch): while deferPolicies is
	// set, the engine's policy changes only mark policiesDirty and held
	// packets to release are noted in kicks, until flushPolicies.
	deferPolicies bool
	policiesDirty bool
	kicks         map[netip.Addr]bool
}

// New loads and checks the configuration; nothing touches the kernel until
// Run. A configuration error is returned with every problem listed.
func New(opts Options) (*Agent, error) {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Notify == nil {
		opts.Notify = sdNotify
	}
	b, err := config.Load(opts.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("agent: %s: %w", opts.ConfigPath, err)
	}
	a := &Agent{
		opts:   opts,
		log:    opts.Log,
		now:    opts.Now,
		reqs:   make(chan func()),
		reload: make(chan struct{}, 1),
		bundle: b,
		conns:  map[string]*connState{},

		peerSA:       map[oe.Pair]*saRunner{},
		peerChildren: map[oe.Pair][]childInfo{},
		peerAuth:     map[oe.Pair]ike.AuthMethod{},
		peerKeys:     map[netip.Addr]oe.Supply{},
	}
	a.setLogLevel(b.Config.Setup.LogLevel)
	if a.dns, err = newResolver(b, a); err != nil {
		return nil, err
	}
	for _, w := range b.Warnings {
		a.log.Warn("configuration", zap.String("warning", w.Error()))
	}
	return a, nil
}

// setLogLevel applies loglevel=.
func (a *Agent) setLogLevel(l config.LogLevel) {
	if a.opts.Level == nil {
		return
	}
	switch l {
	case config.LogDebug:
		a.opts.Level.SetLevel(zap.DebugLevel)
	case config.LogWarn:
		a.opts.Level.SetLevel(zap.WarnLevel)
	case config.LogError:
		a.opts.Level.SetLevel(zap.ErrorLevel)
	default:
		a.opts.Level.SetLevel(zap.InfoLevel)
	}
}

// socketPath is where the control API listens.
func (a *Agent) socketPath() string {
	if a.opts.Socket != "" {
		return a.opts.Socket
	}
	if s := a.bundle.Config.Setup.CtlSocket; s != "" && s != config.DefaultCtlSocket {
		return s
	}
	return api.DefaultSocket
}

// Run applies the configuration to the kernel, serves the control API and
// handles events until ctx ends; then it removes the agent's own SAs and
// policies. It returns nil after a clean shutdown.
func (a *Agent) Run(ctx context.Context) error {
	a.runCtx = ctx
	a.started = a.now()
	a.reloaded = a.started
	if a.opts.Kernel == nil {
		k, err := xfrm.Open(a.log)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		a.kernel, a.closeK = k, k.Close
	} else {
		a.kernel = a.opts.Kernel
	}
	a.rec = trap.NewReconciler(a.kernel, a.log)
	if a.bundle.Config.Setup.OE {
		a.oe = oe.New(oeConfigOf(a.bundle.Config.Setup))
	}
	if a.bundle.Config.Setup.OENegotiationShunt == config.ShuntHold {
		if err := holdPackets(a.log); err != nil {
			a.log.Warn("first packets of OE flows will be dropped while negotiating", zap.Error(err))
		}
	}
	defer func() {
		if a.closeK != nil {
			a.closeK()
		}
	}()

	if err := a.start(ctx); err != nil {
		a.shutdown()
		return err
	}
	if err := a.startIKE(ctx); err != nil {
		a.shutdown()
		return err
	}
	a.publishResponders()
	a.replayPendingAcquires(ctx)
	a.warmDNS(ctx, a.bundle)
	a.startConns(ctx)
	srv, err := localapi.Listen(a.socketPath(), backend{a}, a.log.Named("ctl"))
	if err != nil {
		a.shutdown()
		return fmt.Errorf("agent: %w", err)
	}
	go srv.Serve()
	a.notify("READY=1\n" + a.statusLine())
	a.log.Info("ready", zap.String("socket", a.socketPath()), zap.Int("conns", len(a.conns)))

	var watchdog <-chan time.Time
	if d := watchdogInterval(); d > 0 {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		watchdog = t.C
	}
	statusTick := time.NewTicker(10 * time.Second)
	defer statusTick.Stop()
	events, err := a.kernel.Subscribe(ctx)
	if err != nil {
		a.shutdown()
		return fmt.Errorf("agent: %w", err)
	}
	oeTimer := time.NewTimer(time.Hour)
	defer oeTimer.Stop()
	activity := time.NewTicker(activityInterval(a.bundle.Config.Setup))
	defer activity.Stop()
	for {
		a.armOETimer(oeTimer)
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			a.inBatch(ctx, &events, func() { a.handleKernelEvent(ctx, ev) })
		case <-oeTimer.C:
			a.oeTick(ctx)
		case <-activity.C:
			a.pollActivity(ctx)
		case ev := <-a.ikeEvents:
			a.inBatch(ctx, &events, func() { a.handleIKE(ctx, ev) })
		case <-ctx.Done():
			a.notify("STOPPING=1")
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			srv.Close(sctx)
			cancel()
			a.shutdown()
			return nil
		case f := <-a.reqs:
			f()
		case <-a.reload:
			if _, err := a.doReload(ctx); err != nil {
				a.log.Error("reload failed; nothing was changed", zap.Error(err))
			}
		case <-watchdog:
			a.notify("WATCHDOG=1")
		case <-statusTick.C:
			a.notify(a.statusLine())
		}
	}
}

// armOETimer sets t to fire at the OE engine's next deadline.
func (a *Agent) armOETimer(t *time.Timer) {
	if a.oe == nil {
		return
	}
	d := time.Hour
	if dl := a.oe.Deadline(); !dl.IsZero() {
		d = max(dl.Sub(a.now()), 0)
	}
	t.Reset(d)
}

// ReloadAsync asks the loop to reload the configuration (SIGHUP).
func (a *Agent) ReloadAsync() {
	select {
	case a.reload <- struct{}{}:
	default: // one is pending already
	}
}

// runOnLoop runs f on the loop goroutine and waits for it, or for ctx.
func (a *Agent) runOnLoop(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case a.reqs <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown removes everything the agent installed (SIGTERM): its SAs and
// policies, and nothing of anyone else's.
func (a *Agent) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a.stopAll(ctx)
	if err := a.kernel.Cleanup(ctx); err != nil {
		a.log.Error("shutdown: cleanup", zap.Error(err))
		return
	}
	a.log.Info("shutdown: removed oe-agent's SAs and policies")
}

func (a *Agent) notify(state string) {
	if err := a.opts.Notify(state); err != nil && !errors.Is(err, errNoNotifySocket) {
		a.log.Warn("sd_notify failed", zap.Error(err))
	}
}

func (a *Agent) statusLine() string {
	up := 0
	for _, c := range a.conns {
		if c.state == api.StateUp {
			up++
		}
	}
	return fmt.Sprintf("STATUS=%d conns (%d up), %d acquires, %d negotiations (%d failed)",
		len(a.conns), up, a.counters.Acquires, a.counters.Negotiations, a.counters.NegotiationErrors)
}
